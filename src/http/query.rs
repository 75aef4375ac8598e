//! Typed query strings: [`Params<T>`] extracts a `#[derive(Deserialize, IntoParams)]` struct
//! from the query, and refuses what the struct does not name with the project's problem body
//! (400, `parameter` naming the offender), as axum's `customize-extractor-error` example does.
//!
//! The parameter names come from the struct's `IntoParams` (the same list the OpenAPI
//! document publishes), so an endpoint cannot accept a parameter it does not document.
//!
//! **Repeated parameters**: the last one wins, as it always has on this service (`?res=5&res=7`
//! is `res=7`); the document says so in its description of the API.
//!
//! The structs of the layer endpoints keep their values as text (`Option<String>`) and
//! document the type with `#[param(value_type = …)]`: the domain parsers
//! ([`crate::publish::LayerRequest`], the outreach and tile parsers) check the values and name
//! the parameter in their errors, as before. [`Params::pairs`] hands them the parameters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use crate::error::Error;

/// A typed query string; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Params<T>(pub T);

/// The names of the query parameters of `T`, as published.
pub fn names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// Parses `query` (the raw query string, without `?`) into `T`.
///
/// # Errors
/// A parameter `T` does not name ("unknown parameter", listing the accepted ones), a value
/// that does not fit its field (naming the field), or a query that is not
/// `application/x-www-form-urlencoded`.
pub fn parse<T: DeserializeOwned + IntoParams>(query: &str) -> Result<T, Error> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| Error::invalid("query", format!("the query string is malformed: {e}")))?;
    let accepted = names::<T>();
    // The last of a repeated parameter wins: keep each name's last value, in order.
    let mut last: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if !accepted.contains(&k) {
            let accepts = if accepted.is_empty() {
                "no parameters".to_string()
            } else {
                accepted.join(", ")
            };
            return Err(Error::invalid(
                k,
                format!("unknown parameter; this endpoint accepts {accepts}"),
            ));
        }
        last.retain(|(name, _)| *name != k);
        last.push((k, v));
    }
    let canonical = serde_urlencoded::to_string(&last)
        .map_err(|e| Error::Internal(format!("re-encoding a query: {e}")))?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(canonical.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        let name = if name == "." { "query".into() } else { name };
        Error::invalid(name, e.into_inner().to_string())
    })
}

impl<T: Serialize> Params<T> {
    /// The parameters given, as `(name, value)` pairs (each name once), for the parsers that
    /// read pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        pairs(&self.0)
    }
}

/// `(name, value)` pairs of a flat struct of optional strings.
pub fn pairs<T: Serialize>(value: &T) -> Vec<(String, String)> {
    serde_urlencoded::to_string(value)
        .ok()
        .and_then(|s| serde_urlencoded::from_str(&s).ok())
        .unwrap_or_default()
}

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + IntoParams + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or("")).map(Params)
    }
}

/// No query parameter at all.
#[derive(Debug, Default, serde::Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, Serialize, IntoParams, PartialEq)]
    #[serde(deny_unknown_fields)]
    #[into_params(parameter_in = Query)]
    struct Q {
        limit: Option<u32>,
        name: Option<String>,
    }

    fn param_of(e: Error) -> String {
        match e {
            Error::InvalidParam { param, .. } => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_parameters_parse_and_the_last_repeat_wins() {
        let q: Q = parse("limit=3&name=a%20b&limit=7").unwrap();
        assert_eq!(
            q,
            Q {
                limit: Some(7),
                name: Some("a b".into())
            }
        );
        let q: Q = parse("").unwrap();
        assert_eq!(q.limit, None);
    }

    #[test]
    fn an_unknown_or_malformed_parameter_is_named() {
        assert_eq!(param_of(parse::<Q>("limit=3&nope=1").unwrap_err()), "nope");
        assert_eq!(param_of(parse::<Q>("limit=x").unwrap_err()), "limit");
        assert_eq!(param_of(parse::<NoParams>("a=1").unwrap_err()), "a");
    }

    #[test]
    fn pairs_give_back_what_was_set() {
        let q = Q {
            limit: Some(2),
            name: None,
        };
        assert_eq!(pairs(&q), [("limit".to_string(), "2".to_string())]);
    }
}
