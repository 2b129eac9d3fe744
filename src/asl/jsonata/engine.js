// The bridge between Rust (src/asl/jsonata/mod.rs) and the JSONata reference implementation
// loaded before this file. Values cross as JSON text; errors cross as JSON objects.
"use strict";
(function () {
  const compiled = new Map();
  const RealDate = Date;

  function error(e) {
    if (e && typeof e === "object" && typeof e.code === "string") {
      return JSON.stringify({
        code: e.code,
        position: typeof e.position === "number" ? e.position : null,
        token: e.token === undefined || e.token === null ? null : String(e.token),
        message: String(e.message),
      });
    }
    return JSON.stringify({ code: null, position: null, token: null, message: String(e && e.message !== undefined ? e.message : e) });
  }

  // Step Functions' own functions (developer guide: "JSONata functions provided by Step Functions").
  function partition(array, size) {
    if (!Array.isArray(array)) array = array === undefined ? [] : [array];
    if (!(size > 0) || Math.floor(size) !== size) {
      throw { code: "D3141", message: "The chunk size of $partition must be a positive integer" };
    }
    const out = [];
    for (let i = 0; i < array.length; i += size) out.push(array.slice(i, i + size));
    return out;
  }
  function range(start, end, step) {
    if (step === 0) throw { code: "D3141", message: "The step of $range must not be 0" };
    const out = [];
    if (step > 0) for (let v = start; v <= end; v += step) out.push(v);
    else for (let v = start; v >= end; v += step) out.push(v);
    if (out.length > 1000) throw { code: "D3141", message: "$range produced more than 1000 items" };
    return out;
  }
  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw { code: "D3141", message: "$parse could not parse its argument as JSON: " + e.message };
    }
  }
  // xorshift32: a seeded generator for $random(seed), so tests can repeat a run.
  function random(seed) {
    if (seed === undefined) return Math.random();
    let x = (Math.floor(seed) | 0) || 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    return (x >>> 0) / 4294967296;
  }
  function uuid() {
    const h = [];
    for (let i = 0; i < 16; i++) h.push(Math.floor(Math.random() * 256));
    h[6] = (h[6] & 0x0f) | 0x40;
    h[8] = (h[8] & 0x3f) | 0x80;
    const s = h.map((b) => (b < 16 ? "0" : "") + b.toString(16)).join("");
    return s.slice(0, 8) + "-" + s.slice(8, 12) + "-" + s.slice(12, 16) + "-" + s.slice(16, 20) + "-" + s.slice(20);
  }

  function hash(value, algorithm) {
    const digest = globalThis.__sfn_hash(value, algorithm);
    if (digest === null || digest === undefined) {
      throw { code: "D3141", message: "$hash: the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, not " + JSON.stringify(algorithm) };
    }
    return digest;
  }

  function noEval() {
    throw { code: "T1006", token: "eval" };
  }

  function compile(expr) {
    let x = compiled.get(expr);
    if (x === undefined) {
      x = jsonata(expr);
      x.registerFunction("partition", partition, "<an:a>");
      x.registerFunction("range", range, "<nnn?:a>");
      x.registerFunction("parse", parse, "<s:x>");
      x.registerFunction("random", random, "<n?:n>");
      x.registerFunction("uuid", uuid, "<:s>");
      x.registerFunction("hash", hash, "<ss:s>");
      // Step Functions removes $eval ("use $parse instead").
      x.registerFunction("eval", noEval, "<x-o?:x>");
      if (compiled.size >= 1024) compiled.clear();
      compiled.set(expr, x);
    }
    return x;
  }

  globalThis.__sfn = {
    out: null,
    // The last evaluation's outcome as JSON ({"value": JSON} | {"undefined": true} | {"error": JSON}), or null.
    result() {
      return __sfn.out === null ? null : JSON.stringify(__sfn.out);
    },
    // null when the expression parses, else the error as JSON.
    parse(expr) {
      try {
        jsonata(expr);
        return null;
      } catch (e) {
        return error(e);
      }
    },
    // The syntax tree as JSON (regular expressions become {"regex": source}).
    // {"ast": tree} or {"error": error}, in one parse.
    ast(expr) {
      let ast;
      try {
        ast = jsonata(expr).ast();
      } catch (e) {
        return '{"error":' + error(e) + "}";
      }
      return JSON.stringify({ ast: ast }, (k, v) => (v instanceof RegExp ? { regex: v.source } : v));
    },
    // Starts an evaluation; the result lands in __sfn.out once the job queue is drained.
    eval(expr, input, bindings, nowMillis) {
      __sfn.out = null;
      let x;
      try {
        x = compile(expr);
      } catch (e) {
        __sfn.out = { error: error(e) };
        return;
      }
      const b = JSON.parse(bindings);
      // $now() and $millis() read `new Date()` once, synchronously, when evaluate() starts.
      if (nowMillis !== null) {
        globalThis.Date = function (...a) {
          return a.length === 0 ? new RealDate(nowMillis) : new RealDate(...a);
        };
        globalThis.Date.prototype = RealDate.prototype;
        globalThis.Date.now = () => nowMillis;
        globalThis.Date.UTC = RealDate.UTC;
        globalThis.Date.parse = RealDate.parse;
      }
      let p;
      try {
        p = x.evaluate(JSON.parse(input), b);
      } finally {
        globalThis.Date = RealDate;
      }
      p.then(
        (v) => {
          __sfn.out = v === undefined ? { undefined: true } : { value: JSON.stringify(v) };
        },
        (e) => {
          __sfn.out = { error: error(e) };
        },
      );
    },
  };
})();
