//! The classification of a layer's metric into classes and colours. The legend, the GeoJSON
//! layer, the raster tiles and the web map all use this one result, never their own copy.

use serde::Serialize;

/// ColorBrewer YlGnBu, 5 classes: sequential and colour-blind safe.
pub const SEQUENTIAL: [&str; 5] = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"];
/// ColorBrewer PuOr, 5 classes: diverging around 1 for location quotients; colour-blind safe.
pub const DIVERGING: [&str; 5] = ["#e66101", "#fdb863", "#f7f7f7", "#b2abd2", "#5e3c99"];
/// Fill of a unit whose value is suppressed.
pub const SUPPRESSED: &str = "#bdbdbd";
/// Fixed breaks for location quotients: under-represented below 0.8, over above 1.25.
const LQ_BREAKS: [f64; 4] = [0.5, 0.8, 1.25, 2.0];

/// Classes of one metric: `breaks[i]` is the lower bound of class `i + 1`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    pub metric: String,
    /// `quantile` (equal-count classes over the published values) or `fixed`.
    pub method: &'static str,
    pub breaks: Vec<f64>,
    pub colors: Vec<&'static str>,
    pub suppressed_color: &'static str,
}

impl Classification {
    /// Classifies the published (non-null) values of `metric`.
    pub fn new(metric: &str, values: &[f64]) -> Classification {
        if metric.ends_with("_lq") {
            return Classification {
                metric: metric.to_string(),
                method: "fixed",
                breaks: LQ_BREAKS.to_vec(),
                colors: DIVERGING.to_vec(),
                suppressed_color: SUPPRESSED,
            };
        }
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let mut breaks: Vec<f64> = Vec::new();
        if !v.is_empty() {
            for q in 1..SEQUENTIAL.len() {
                let b = nice(v[(v.len() * q / SEQUENTIAL.len()).min(v.len() - 1)]);
                if breaks.last().is_none_or(|&last| b > last) && b > v[0] {
                    breaks.push(b);
                }
            }
        }
        Classification {
            metric: metric.to_string(),
            method: "quantile",
            colors: SEQUENTIAL[SEQUENTIAL.len() - breaks.len() - 1..].to_vec(),
            breaks,
            suppressed_color: SUPPRESSED,
        }
    }

    /// The class of a value (0 = lowest).
    pub fn class_of(&self, value: f64) -> usize {
        self.breaks.iter().take_while(|&&b| value >= b).count()
    }

    /// The fill colour of a value, or of a suppressed value.
    pub fn color_of(&self, value: Option<f64>) -> &'static str {
        value.map_or(self.suppressed_color, |v| self.colors[self.class_of(v)])
    }
}

/// Rounds a break to two significant digits, so the legend reads "1,200" not "1,187.37".
fn nice(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = 10f64.powf(x.abs().log10().floor() - 1.0);
    (x / magnitude).round() * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_classes_split_values_evenly_and_colour_them() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let c = Classification::new("count", &values);
        assert_eq!(c.breaks, vec![21.0, 41.0, 61.0, 81.0]);
        assert_eq!(c.colors.len(), 5);
        assert_eq!(c.class_of(20.0), 0);
        assert_eq!(c.class_of(81.0), 4);
        assert_eq!(c.color_of(None), SUPPRESSED);
    }

    #[test]
    fn few_distinct_values_give_fewer_classes() {
        let c = Classification::new("count", &[11.0, 11.0, 11.0, 50.0]);
        assert_eq!(c.breaks.len() + 1, c.colors.len());
        assert!(c.breaks.len() <= 1);
    }
}
