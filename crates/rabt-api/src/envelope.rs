//! The body of `POST /v1/requests`: `{"service", "input", "reference", "notify_url"}`,
//! checked field by field so that every mistake is reported with its JSON Pointer.

use serde_json::{Map, Value};

use crate::problem::FieldError;

/// The longest `reference` a cooperative may attach.
pub(crate) const MAX_REFERENCE_LEN: usize = 128;
/// The longest `notify_url`.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// A well-formed request body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope {
    /// The service name as sent (looked up in the catalogue next).
    pub service: String,
    /// The service's input (validated against its schema next).
    pub input: Value,
    /// The cooperative's own reference.
    pub reference: Option<String>,
    /// Where to send the signed completion notification.
    pub notify_url: Option<String>,
}

const FIELDS: [&str; 4] = ["service", "input", "reference", "notify_url"];

/// Checks the body's shape; every offending field is reported. A `notify_url` must
/// also pass the SSRF rules unless `allow_private_targets` (tests, the demo).
pub(crate) fn parse(
    body: &Value,
    allow_private_targets: bool,
) -> Result<Envelope, Vec<FieldError>> {
    let Some(map) = body.as_object() else {
        return Err(vec![FieldError::at(
            "",
            "the body must be a JSON object",
            "يجب أن يكون محتوى الطلب كائن JSON",
        )]);
    };
    let mut errors = Vec::new();
    for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldError::at(
            format!("/{}", escape(key)),
            format!("unknown field `{key}` (allowed: service, input, reference, notify_url)"),
            format!("الحقل `{key}` غير معروف (المسموح: service وinput وreference وnotify_url)"),
        ));
    }
    let service = required_string(map, "service", &mut errors);
    let input = match map.get("input") {
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => {
            errors.push(FieldError::at(
                "/input",
                "`input` must be a JSON object",
                "يجب أن يكون `input` كائن JSON",
            ));
            None
        }
        None => {
            errors.push(missing("input"));
            None
        }
    };
    let reference = optional_string(map, "reference", MAX_REFERENCE_LEN, &mut errors);
    let notify_url = optional_string(map, "notify_url", MAX_URL_LEN, &mut errors);
    if let Some(url) = &notify_url {
        check_url(url, allow_private_targets, &mut errors);
    }
    match (service, input) {
        (Some(service), Some(input)) if errors.is_empty() => Ok(Envelope {
            service,
            input,
            reference,
            notify_url,
        }),
        _ => Err(errors),
    }
}

fn missing(field: &str) -> FieldError {
    FieldError::at(
        format!("/{field}"),
        format!("missing required field `{field}`"),
        format!("الحقل المطلوب `{field}` مفقود"),
    )
}

fn required_string(
    map: &Map<String, Value>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match map.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::at(
                format!("/{field}"),
                format!("`{field}` must be a non-empty string"),
                format!("يجب أن يكون `{field}` نصًا غير فارغ"),
            ));
            None
        }
        None => {
            errors.push(missing(field));
            None
        }
    }
}

fn optional_string(
    map: &Map<String, Value>,
    field: &str,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match map.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= max => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError::at(
                format!("/{field}"),
                format!("`{field}` must be a string of 1 to {max} characters"),
                format!("يجب أن يكون `{field}` نصًا من 1 إلى {max} حرفًا"),
            ));
            None
        }
    }
}

/// A notify URL must be an absolute http(s) URL with a host, and — unless private
/// targets are allowed — `https` and not aimed at a restricted IP literal (loopback,
/// private, link-local, metadata…) or an obviously local name. Names that resolve to
/// such addresses, and redirects, are caught when notifying.
fn check_url(url: &str, allow_private_targets: bool, errors: &mut Vec<FieldError>) {
    let parsed = url::Url::parse(url).ok().filter(|u| {
        matches!(u.scheme(), "https" | "http") && u.host_str().is_some_and(|h| !h.is_empty())
    });
    let Some(parsed) = parsed else {
        // Say what this deployment accepts: plain http only where private targets are
        // allowed (`rabt demo`, tests).
        errors.push(if allow_private_targets {
            FieldError::at(
                "/notify_url",
                "`notify_url` must be an absolute http:// or https:// URL",
                "يجب أن يكون `notify_url` عنوان http:// أو https:// كاملًا",
            )
        } else {
            FieldError::at(
                "/notify_url",
                "`notify_url` must be an absolute https:// URL",
                "يجب أن يكون `notify_url` عنوان https:// كاملًا",
            )
        });
        return;
    };
    if allow_private_targets {
        return;
    }
    if parsed.scheme() != "https" {
        errors.push(FieldError::at(
            "/notify_url",
            "`notify_url` must use https://",
            "يجب أن يستخدم `notify_url` البروتوكول https://",
        ));
        return;
    }
    if let Some(reason) = restricted_host(&parsed) {
        errors.push(FieldError::at(
            "/notify_url",
            format!("`notify_url` must name a public host: {reason}"),
            format!("يجب أن يشير `notify_url` إلى خادم عام، لا إلى عنوان داخلي أو محجوز ({reason})"),
        ));
    }
}

/// Why the URL's host may not receive notifications, judged by its form alone.
fn restricted_host(url: &url::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Domain(name) => {
            return rabt_core::target::is_local_name(name)
                .then(|| format!("`{name}` is a local name"));
        }
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
    };
    rabt_core::target::restricted(ip).map(|class| format!("{ip} is {class}"))
}

/// Escapes a key for a JSON Pointer (RFC 6901 §3).
pub(crate) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(body: Value) -> Vec<String> {
        parse(&body, false)
            .unwrap_err()
            .into_iter()
            .filter_map(|e| e.pointer)
            .collect()
    }

    #[test]
    fn a_good_body_parses() {
        let env = parse(&json!({"service": "post.address.verify", "input": {"shortAddress": "RRRD2929"}, "reference": "inv-1"}), false).unwrap();
        assert_eq!(env.service, "post.address.verify");
        assert_eq!(env.reference.as_deref(), Some("inv-1"));
        assert_eq!(env.notify_url, None);
    }

    #[test]
    fn every_mistake_is_reported_with_its_pointer() {
        assert_eq!(pointers(json!([])), vec![""]);
        assert_eq!(pointers(json!({})), vec!["/service", "/input"]);
        assert_eq!(
            pointers(json!({"service": 3, "input": "x", "extra/field": 1, "reference": ""})),
            vec!["/extra~1field", "/service", "/input", "/reference"]
        );
        assert_eq!(
            pointers(json!({"service": "s", "input": {}, "notify_url": "ftp://example.org/x"})),
            vec!["/notify_url"]
        );
        assert_eq!(
            pointers(json!({"service": "s", "input": {}, "reference": "r".repeat(129)})),
            vec!["/reference"]
        );
    }

    /// The message of the one error a notify URL gets, or `None` if it is accepted.
    fn notify_url_error(url: &str, allow_private_targets: bool) -> Option<String> {
        let body = json!({"service": "s", "input": {}, "notify_url": url});
        match parse(&body, allow_private_targets) {
            Ok(_) => None,
            Err(errors) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].pointer.as_deref(), Some("/notify_url"));
                Some(errors[0].detail_en.clone())
            }
        }
    }

    #[test]
    fn notify_urls_must_name_public_https_hosts() {
        for refused in [
            "https://127.0.0.1/hook",
            "https://127.1/hook",
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://0177.0.0.1/hook",
            "https://0.0.0.0/hook",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://10.0.0.1/hook",
            "https://172.16.5.4/hook",
            "https://192.168.1.1/hook",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/hook",
            "https://[fd00::1]/hook",
            "https://[fe80::1]/hook",
            "https://localhost/hook",
            "https://api.localhost/hook",
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://intranet/hook",
            "http://erp.example.sa/hook",
        ] {
            let error = notify_url_error(refused, false);
            assert!(error.is_some(), "{refused} was accepted");
        }
        assert_eq!(
            notify_url_error("https://127.1/hook?token=x", false).as_deref(),
            Some("`notify_url` must name a public host: 127.0.0.1 is a loopback address")
        );
        assert_eq!(
            notify_url_error("http://erp.example.sa/hook", false).as_deref(),
            Some("`notify_url` must use https://")
        );
        assert_eq!(
            notify_url_error("https://erp.example.sa/hooks/rabt?t=1", false),
            None
        );
        assert_eq!(notify_url_error("https://8.8.8.8/hook", false), None);
        // Tests and the demo allow private targets, and plain http with them.
        assert_eq!(notify_url_error("http://127.0.0.1:9000/hook", true), None);
        assert_eq!(
            notify_url_error("ftp://127.0.0.1/hook", true).as_deref(),
            Some("`notify_url` must be an absolute http:// or https:// URL"),
            "where http is allowed, the message does not claim https is required"
        );
        assert_eq!(
            notify_url_error("ftp://erp.example.sa/hook", false).as_deref(),
            Some("`notify_url` must be an absolute https:// URL")
        );
    }
}
