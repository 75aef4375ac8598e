//! The query model every publishing route shares: [`LayerRequest`], built from the
//! parameters as given ([`LayerParams`], whatever parsed the query string) and validated once.

use crate::aggregate::filter::Field;
use crate::aggregate::{Filter, MetricGroup, Skill, Unit};
use crate::codes::Codebook;
use crate::error::Error;

/// The layer parameters other than the filters.
pub const PARAMS: [&str; 9] = [
    "unit", "res", "bbox", "metric", "metrics", "skill", "format", "download", "lang",
];

/// A validated layer request, shared by the GeoJSON/CSV, tile, OGC and outreach endpoints.
#[derive(Clone, Debug)]
pub struct LayerRequest {
    pub unit: Unit,
    pub filter: Filter,
    pub groups: Vec<MetricGroup>,
    pub skill: Option<Skill>,
    /// The metric classified for the legend.
    pub metric: String,
    /// minLon, minLat, maxLon, maxLat (CRS84, degrees).
    pub bbox: Option<[f64; 4]>,
    /// The filter parameters as given, sorted: what a download's name and metadata say.
    pub filter_params: Vec<(String, String)>,
}

/// The parameters of a layer request as the client gave them (text), before validation:
/// fill it from query pairs ([`LayerRequest::from_pairs`]) or from a typed query struct.
#[derive(Clone, Debug, Default)]
pub struct LayerParams<'a> {
    /// `h3` (default), `state` or `county`.
    pub unit: Option<&'a str>,
    /// H3 resolution, 2 to 9 (default 6).
    pub res: Option<&'a str>,
    /// `minLon,minLat,maxLon,maxLat` in degrees (CRS84).
    pub bbox: Option<&'a str>,
    /// The metric the legend classifies (default `count`).
    pub metric: Option<&'a str>,
    /// `all` or a comma-separated list of metric groups.
    pub metrics: Option<&'a str>,
    /// `occupation:CODE` or `sector:CODE`.
    pub skill: Option<&'a str>,
    /// The record filters ([`Field::PARAMS`]) in the order given, repeats included.
    pub filters: Vec<(&'a str, &'a str)>,
}

impl LayerRequest {
    /// Validates the parameters of a layer request.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] or [`Error::UnknownCode`] naming the parameter: a resolution,
    /// unit or metric group that does not exist, an unknown code, a malformed box or month.
    pub fn new(p: &LayerParams<'_>) -> Result<LayerRequest, Error> {
        let res = match p.res {
            None => 6,
            Some(r) => r.parse::<u8>().map_err(|_| {
                Error::invalid("res", format!("{r:?} is not a resolution (2 to 9)"))
            })?,
        };
        let unit = match p.unit.unwrap_or("h3") {
            "h3" => Unit::H3(res),
            "state" => Unit::State,
            "county" => Unit::County,
            other => {
                return Err(Error::invalid(
                    "unit",
                    format!("{other:?}: use h3, state or county"),
                ))
            }
        };
        let filter = Filter::from_params(p.filters.iter().copied())?;
        let groups = match p.metrics {
            None | Some("") => Vec::new(),
            Some("all") => MetricGroup::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|g| {
                    MetricGroup::parse(g.trim()).ok_or_else(|| {
                        Error::invalid("metrics", format!("{g:?}: use all or any of occupation, sector, need, difficulty, willingness, channel, language"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let skill = p.skill.map(parse_skill).transpose()?;
        let metric = p.metric.unwrap_or("count").to_string();
        let bbox = p.bbox.map(parse_bbox).transpose()?;
        let mut filter_params: Vec<(String, String)> = p
            .filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        filter_params.sort();
        Ok(LayerRequest {
            unit,
            filter,
            groups,
            skill,
            metric,
            bbox,
            filter_params,
        })
    }

    /// Validates query pairs: the layer parameters ([`PARAMS`]), the filters, and `extra`,
    /// other parameters the caller accepts (and reads itself). A repeated parameter: the
    /// last one wins (filters: see [`Filter::from_params`]).
    ///
    /// # Errors
    /// An unknown parameter, then as [`LayerRequest::new`].
    pub fn from_pairs(pairs: &[(String, String)], extra: &[&str]) -> Result<LayerRequest, Error> {
        for (k, _) in pairs {
            if !PARAMS.contains(&k.as_str())
                && !Field::PARAMS.contains(&k.as_str())
                && !extra.contains(&k.as_str())
            {
                return Err(Error::invalid(k, "unknown parameter"));
            }
        }
        let get = |name: &str| param(pairs, name);
        LayerRequest::new(&LayerParams {
            unit: get("unit"),
            res: get("res"),
            bbox: get("bbox"),
            metric: get("metric"),
            metrics: get("metrics"),
            skill: get("skill"),
            filters: pairs
                .iter()
                .filter(|(k, _)| Field::PARAMS.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        })
    }
}

/// The last value of query parameter `name` (a repeated parameter: the last one wins).
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses `skill`: `occupation:CODE` or `sector:CODE`.
fn parse_skill(s: &str) -> Result<Skill, Error> {
    let bad = || {
        Error::invalid(
            "skill",
            format!("{s:?}: use occupation:CODE or sector:CODE, e.g. sector:Q"),
        )
    };
    let (group, code) = s.split_once(':').ok_or_else(bad)?;
    let group = MetricGroup::parse(group)
        .filter(|g| matches!(g, MetricGroup::Occupation | MetricGroup::Sector))
        .ok_or_else(bad)?;
    let index = Codebook::get()
        .index(group.list(), code)
        .map_err(|source| Error::UnknownCode {
            param: "skill".into(),
            source,
        })?;
    Ok(Skill { group, index })
}

/// Parses `minLon,minLat,maxLon,maxLat` in degrees (CRS84).
///
/// # Errors
/// [`Error::InvalidParam`] on `bbox`: not four finite numbers, out of range, or min above max.
pub fn parse_bbox(s: &str) -> Result<[f64; 4], Error> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            Error::invalid(
                "bbox",
                format!("{s:?} is not four numbers minLon,minLat,maxLon,maxLat"),
            )
        })?;
    if v.len() != 4 || v.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(
            "bbox",
            "give four finite numbers minLon,minLat,maxLon,maxLat",
        ));
    }
    if v[0] < -180.0 || v[2] > 180.0 || v[1] < -90.0 || v[3] > 90.0 || v[0] > v[2] || v[1] > v[3] {
        return Err(Error::invalid(
            "bbox",
            "longitudes must be within -180..180, latitudes within -90..90, min before max",
        ));
    }
    Ok([v[0], v[1], v[2], v[3]])
}

/// `(name, value)` pairs from string slices: the query pairs of the tests.
#[cfg(test)]
pub(crate) fn pairs_of(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::pairs_of as pairs;

    #[test]
    fn pairs_and_typed_parameters_make_the_same_request() {
        let p = pairs(&[("gender", "f"), ("unit", "county"), ("sector", "Q")]);
        let a = LayerRequest::from_pairs(&p, &[]).unwrap();
        let b = LayerRequest::new(&LayerParams {
            unit: Some("county"),
            filters: vec![("gender", "f"), ("sector", "Q")],
            ..LayerParams::default()
        })
        .unwrap();
        assert_eq!(a.unit, b.unit);
        assert_eq!(a.filter.canonical(), b.filter.canonical());
        assert_eq!(a.filter_params, b.filter_params);
    }

    #[test]
    fn errors_name_the_parameter() {
        let field = |p: &[(&str, &str)]| match LayerRequest::from_pairs(&pairs(p), &[]) {
            Err(Error::InvalidParam { param, .. }) => param,
            Err(Error::UnknownCode { param, .. }) => param,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(&[("res", "x")]), "res");
        assert_eq!(field(&[("unit", "zip")]), "unit");
        assert_eq!(field(&[("bbox", "1,2,3")]), "bbox");
        assert_eq!(field(&[("skill", "sector:ZZ")]), "skill");
        assert_eq!(field(&[("nope", "1")]), "nope");
    }
}
