//! HTML forms: reading them (URL-encoded or multipart, with file uploads),
//! turning them into the API's requests, and showing fields with their errors.

use crate::error::ApiError;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The largest uploaded file (a job script), bytes.
pub const MAX_UPLOAD_BYTES: usize = 1 << 20;

/// A submitted form: its fields in order (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field's value, trimmed; `None` when missing or blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Fields whose names start with `prefix`, without it.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter_map(move |(k, v)| Some((k.strip_prefix(prefix)?, v.as_str())))
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = super::PortalError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(|e| {
                    ApiError::Malformed(format!("the form could not be read: {}", e.body_text()))
                })?;
            return Ok(Form(fields));
        }
        let mut mp = Multipart::from_request(req, state).await.map_err(|e| {
            ApiError::Malformed(format!("the form could not be read: {}", e.body_text()))
        })?;
        let mut fields = Vec::new();
        let bad = |e: axum::extract::multipart::MultipartError| {
            ApiError::Malformed(format!("the form could not be read: {}", e.body_text()))
        };
        while let Some(field) = mp.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_string();
            let file = field.file_name().map(str::to_string);
            let bytes = field.bytes().await.map_err(bad)?;
            if file.is_some() && bytes.len() > MAX_UPLOAD_BYTES {
                return Err(ApiError::invalid(
                    name,
                    format!("the file is {} bytes", bytes.len()),
                    Some(format!("{MAX_UPLOAD_BYTES} bytes")),
                )
                .into());
            }
            let text = String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::invalid(name.clone(), "the file is not UTF-8 text", None))?;
            if let Some(f) = file.filter(|f| !f.is_empty()) {
                fields.push((format!("{name}.filename"), f));
            }
            fields.push((name, text));
        }
        Ok(Form(fields))
    }
}

/// How a form field becomes a JSON value of the API's request.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string; blank is left out (the request's default applies).
    Text,
    /// A whole number.
    Int,
    /// A number with a fraction.
    Float,
}

/// Builds the API's request from form fields, naming the field at fault.
pub fn request<T: DeserializeOwned>(form: &Form, spec: &[(&str, Kind)]) -> Result<T, ApiError> {
    let mut obj = Map::new();
    for &(name, kind) in spec {
        let v = form.text(name);
        let value = match (kind, v) {
            (_, None) => continue,
            (Kind::Text, Some(v)) => Value::String(v),
            (Kind::Int, Some(v)) => Value::from(v.parse::<i64>().map_err(|_| {
                ApiError::invalid(name, format!("{v:?} is not a whole number"), None)
            })?),
            (Kind::Float, Some(v)) => v
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| ApiError::invalid(name, format!("{v:?} is not a number"), None))?,
        };
        obj.insert(name.to_string(), value);
    }
    let value = Value::Object(obj);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is named by serde in the message rather than the path.
        let field = if path == "." {
            inner.split('`').nth(1).unwrap_or("form").to_string()
        } else {
            path
        };
        ApiError::invalid(field, inner, None)
    })
}

/// One line a person reads: the field, what is wrong, the limit.
pub fn message(e: &ApiError) -> String {
    match e {
        ApiError::Invalid {
            field,
            detail,
            limit,
        } => {
            let mut m = format!("{field}: {detail}");
            if let Some(l) = limit {
                m.push_str(&format!(" (limit: {l})"));
            }
            m
        }
        ApiError::Internal(_) => "internal error; the administrators can find it in the log".into(),
        other => other.to_string(),
    }
}

/// Whether a refusal goes back to its form (with the error beside the fields
/// and the status kept) rather than to an error page.
pub fn is_form_error(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Invalid { .. }
            | ApiError::Malformed(_)
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::Forbidden(_)
    )
}

/// A form's answer: on success a redirect to `Ok`'s page (303: the browser
/// follows with GET); refused, the form again from `again`, with the
/// refusal's status; anything else an error page.
pub async fn answer(
    res: Result<String, ApiError>,
    again: impl AsyncFnOnce(&ApiError) -> Result<Markup, super::PortalError>,
) -> Result<axum::response::Response, super::PortalError> {
    use axum::response::IntoResponse;
    match res {
        Ok(to) => Ok(super::see_other(&to)),
        Err(e) if is_form_error(&e) => {
            let body = again(&e).await?;
            Ok((e.status(), body).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// The field an error names, if any.
pub fn field_of(e: Option<&ApiError>) -> Option<&str> {
    match e {
        Some(ApiError::Invalid { field, .. }) => Some(field.as_str()),
        _ => None,
    }
}

/// The error box at the top of a form.
pub fn error_box(e: Option<&ApiError>) -> Markup {
    html! {
        @if let Some(e) = e {
            // Focused (and so scrolled to) when the page loads, without script.
            p class="error" role="alert" id="form-error" tabindex="-1" autofocus { (message(e)) }
        }
    }
}

/// A labelled input keeping what was typed; marked invalid when the error names it.
pub fn input(
    label: &str,
    name: &str,
    kind: &str,
    form: &Form,
    error: Option<&ApiError>,
    hint: &str,
) -> Markup {
    let id = format!("f-{name}");
    let invalid = field_of(error).is_some_and(|f| f == name || f.starts_with(&format!("{name}.")));
    html! {
        div class="field" {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=[form.get(name)]
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[(!hint.is_empty()).then(|| format!("{id}-hint"))];
            @if !hint.is_empty() { small id=(format!("{id}-hint")) { (hint) } }
        }
    }
}

/// A labelled select of `options` (value, text), keeping the choice.
pub fn select(label: &str, name: &str, options: &[(String, String)], form: &Form) -> Markup {
    let id = format!("f-{name}");
    let chosen = form.get(name);
    html! {
        div class="field" {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[chosen == Some(value.as_str())] { (text) }
                }
            }
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        name: String,
        nodes: u32,
        #[serde(default)]
        tflops: f64,
    }

    fn form(fields: &[(&str, &str)]) -> Form {
        Form(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    const SPEC: &[(&str, Kind)] = &[
        ("name", Kind::Text),
        ("nodes", Kind::Int),
        ("tflops", Kind::Float),
    ];

    #[test]
    fn fields_become_the_request() {
        let r: Req = request(
            &form(&[("name", " h100 "), ("nodes", "4"), ("tflops", "67.5")]),
            SPEC,
        )
        .unwrap();
        assert_eq!((r.name.as_str(), r.nodes, r.tflops), ("h100", 4, 67.5));
    }

    #[test]
    fn bad_fields_are_named() {
        let e = request::<Req>(&form(&[("name", "x"), ("nodes", "four")]), SPEC).unwrap_err();
        assert_eq!(field_of(Some(&e)), Some("nodes"));
        let e = request::<Req>(&form(&[("name", "x"), ("nodes", "-1")]), SPEC).unwrap_err();
        assert_eq!(field_of(Some(&e)), Some("nodes"));
        let e = request::<Req>(&form(&[("nodes", "1")]), SPEC).unwrap_err();
        assert_eq!(field_of(Some(&e)), Some("name"), "{e}");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("/jobs?state=running&x=a b"),
            "/jobs%3Fstate%3Drunning%26x%3Da%20b"
        );
    }
}
