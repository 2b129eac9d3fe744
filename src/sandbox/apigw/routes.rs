//! Routing: which API Gateway object a request's path addresses, and the operation it is.
//! Must not: look at the state.

/// A request's place in the API: which object it addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Route {
    RestApis,
    RestApi(String),
    Resources(String),
    Resource(String, String),
    Method(String, String, String),
    MethodResponse(String, String, String, String),
    Integration(String, String, String),
    IntegrationResponse(String, String, String, String),
    Deployments(String),
    Deployment(String, String),
    Stages(String),
    Stage(String, String),
    Tags(String),
}

pub(super) fn route(path: &str) -> Option<Route> {
    let path = path.split('?').next().unwrap_or("");
    if let Some(arn) = path.strip_prefix("/tags/") {
        return Some(Route::Tags(percent_decode(arn)));
    }
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let o = |x: &str| x.to_owned();
    Some(match s.as_slice() {
        ["restapis"] => Route::RestApis,
        ["restapis", a] => Route::RestApi(o(a)),
        ["restapis", a, "resources"] => Route::Resources(o(a)),
        ["restapis", a, "resources", r] => Route::Resource(o(a), o(r)),
        ["restapis", a, "resources", r, "methods", m] => Route::Method(o(a), o(r), m.to_uppercase()),
        ["restapis", a, "resources", r, "methods", m, "responses", c] => {
            Route::MethodResponse(o(a), o(r), m.to_uppercase(), o(c))
        }
        ["restapis", a, "resources", r, "methods", m, "integration"] => {
            Route::Integration(o(a), o(r), m.to_uppercase())
        }
        [
            "restapis",
            a,
            "resources",
            r,
            "methods",
            m,
            "integration",
            "responses",
            c,
        ] => Route::IntegrationResponse(o(a), o(r), m.to_uppercase(), o(c)),
        ["restapis", a, "deployments"] => Route::Deployments(o(a)),
        ["restapis", a, "deployments", d] => Route::Deployment(o(a), o(d)),
        ["restapis", a, "stages"] => Route::Stages(o(a)),
        ["restapis", a, "stages", n] => Route::Stage(o(a), o(n)),
        _ => return None,
    })
}

pub(super) fn op_name(method: &str, r: &Route) -> &'static str {
    match (method, r) {
        ("GET", Route::RestApis) => "GetRestApis",
        ("POST", Route::RestApis) => "CreateRestApi",
        ("GET", Route::RestApi(..)) => "GetRestApi",
        ("PATCH", Route::RestApi(..)) => "UpdateRestApi",
        ("PUT", Route::RestApi(..)) => "PutRestApi",
        ("DELETE", Route::RestApi(..)) => "DeleteRestApi",
        ("GET", Route::Resources(..)) => "GetResources",
        ("GET", Route::Resource(..)) => "GetResource",
        ("POST", Route::Resource(..)) => "CreateResource",
        ("PATCH", Route::Resource(..)) => "UpdateResource",
        ("DELETE", Route::Resource(..)) => "DeleteResource",
        ("PUT", Route::Method(..)) => "PutMethod",
        ("GET", Route::Method(..)) => "GetMethod",
        ("PATCH", Route::Method(..)) => "UpdateMethod",
        ("DELETE", Route::Method(..)) => "DeleteMethod",
        ("PUT", Route::MethodResponse(..)) => "PutMethodResponse",
        ("GET", Route::MethodResponse(..)) => "GetMethodResponse",
        ("PATCH", Route::MethodResponse(..)) => "UpdateMethodResponse",
        ("DELETE", Route::MethodResponse(..)) => "DeleteMethodResponse",
        ("PUT", Route::Integration(..)) => "PutIntegration",
        ("GET", Route::Integration(..)) => "GetIntegration",
        ("PATCH", Route::Integration(..)) => "UpdateIntegration",
        ("DELETE", Route::Integration(..)) => "DeleteIntegration",
        ("PUT", Route::IntegrationResponse(..)) => "PutIntegrationResponse",
        ("GET", Route::IntegrationResponse(..)) => "GetIntegrationResponse",
        ("PATCH", Route::IntegrationResponse(..)) => "UpdateIntegrationResponse",
        ("DELETE", Route::IntegrationResponse(..)) => "DeleteIntegrationResponse",
        ("GET", Route::Deployments(..)) => "GetDeployments",
        ("POST", Route::Deployments(..)) => "CreateDeployment",
        ("GET", Route::Deployment(..)) => "GetDeployment",
        ("PATCH", Route::Deployment(..)) => "UpdateDeployment",
        ("DELETE", Route::Deployment(..)) => "DeleteDeployment",
        ("GET", Route::Stages(..)) => "GetStages",
        ("POST", Route::Stages(..)) => "CreateStage",
        ("GET", Route::Stage(..)) => "GetStage",
        ("PATCH", Route::Stage(..)) => "UpdateStage",
        ("DELETE", Route::Stage(..)) => "DeleteStage",
        ("GET", Route::Tags(..)) => "GetTags",
        ("PUT", Route::Tags(..)) => "TagResource",
        ("DELETE", Route::Tags(..)) => "UntagResource",
        _ => "Unknown",
    }
}

/// Percent-decoding of one path segment (invalid escapes are kept as they are).
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
