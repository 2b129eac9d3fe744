//! The Resource Groups Tagging API (`tag:GetResources`): the tags of every resource the operator
//! manages in one paginated listing (100 a page), instead of one `ListTagsForResource` per state
//! machine, whose quota (100, then 1 a second) is what made a pass over 1,000 machines take 15
//! minutes on a real account.
//!
//! Must not: decide what a listing means (`apply` does), or treat a resource missing from it as
//! gone: the listing is eventually consistent on AWS and holds only resources with our
//! `managed-by` tag, so a resource not in it is read one by one.

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use tokio::time::Instant;

use super::{Aws, AwsError, retry};
use crate::ownership;

const SVC: &str = "tagging";

/// The Tagging API's resource type of Step Functions state machines.
pub const STATE_MACHINE_TYPE: &str = "states:stateMachine";
/// The Tagging API's resource type of API Gateway REST APIs.
pub const REST_API_TYPE: &str = "apigateway:restapis";

/// The most resources one `GetResources` page may hold.
pub const PAGE_SIZE: i32 = 100;

/// Resource ARN → its tags, for every resource of one type carrying our `managed-by` tag.
pub type TagListing = BTreeMap<String, BTreeMap<String, String>>;

impl Aws {
    /// GetResources, every page, for `resource_type` filtered by the `managed-by=sfn-operator`
    /// tag (every owner id: another instance's resources must be recognised as such). Each page is
    /// retried on its own until `deadline`.
    pub async fn list_managed(&self, resource_type: &str, deadline: Instant) -> Result<TagListing, AwsError> {
        let filter = TagFilter::builder()
            .key(ownership::MANAGED_BY)
            .values(ownership::MANAGED_BY_VALUE)
            .build();
        self.list_tags(resource_type, Some(filter), deadline).await
    }

    /// GetResources, every page, for `resource_type` with no tag filter: every resource of that
    /// type that carries a tag (`import` reads many machines' tags so; one not listed has none, as
    /// far as the eventually consistent listing knows).
    pub async fn list_tagged(&self, resource_type: &str, deadline: Instant) -> Result<TagListing, AwsError> {
        self.list_tags(resource_type, None, deadline).await
    }

    async fn list_tags(
        &self,
        resource_type: &str,
        filter: Option<TagFilter>,
        deadline: Instant,
    ) -> Result<TagListing, AwsError> {
        let mut all = TagListing::new();
        let mut token: Option<String> = None;
        loop {
            let out = retry(deadline, || {
                self.call(
                    SVC,
                    "GetResources",
                    self.tagging
                        .get_resources()
                        .resource_type_filters(resource_type)
                        .set_tag_filters(filter.clone().map(|f| vec![f]))
                        .resources_per_page(PAGE_SIZE)
                        .set_pagination_token(token.clone())
                        .send(),
                )
            })
            .await?;
            for mapping in out.resource_tag_mapping_list() {
                let Some(arn) = mapping.resource_arn() else {
                    continue;
                };
                let tags = mapping
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect();
                all.insert(arn.to_owned(), tags);
            }
            match out.pagination_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => return Ok(all),
            }
        }
    }
}
