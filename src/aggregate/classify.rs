//! The classification of a layer's metric into classes and colours. The legend, the GeoJSON
//! layer, the raster tiles and the web map all use this one result, never their own copy.

use serde::Serialize;

/// ColorBrewer YlGnBu (the 7-class scheme's five darkest): sequential and colour-blind safe.
/// The palest class stands out from the basemap's land (#f2efe9) at 1.5:1 when drawn at the
/// web map's fill opacity of 0.88 (the 5-class scheme's #ffffcc was 1.09:1: invisible).
pub const SEQUENTIAL: [&str; 5] = ["#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"];
/// ColorBrewer PuOr, 5 classes, diverging (around 1 for location quotients, around the
/// national value for shares), with two changes for the land they are drawn on (#f2efe9, at
/// the map's fill opacity of 0.88). The middle class ("like the US") is a soft green: PuOr's
/// #f7f7f7 was as pale as the land (1.06:1) and vanished on a phone; #8fbc78 stands out at
/// 1.75:1. It is about as light as its neighbours (1.09:1 against the pale orange, 1.00:1
/// against the pale purple, 1.14:1 against the suppressed grey) but differs in hue: CIELAB
/// ΔE 47, 54 and 35, still 25, 41 and 25 under a simulated deuteranopia (Machado 2009). The
/// pale orange is a little deeper than PuOr's #fdb863 (1.43:1 against the land): #f7a854,
/// 1.61:1. Every area's outline marks it as well.
pub const DIVERGING: [&str; 5] = ["#e66101", "#f7a854", "#8fbc78", "#b2abd2", "#5e3c99"];
/// Fill of a unit whose value is suppressed.
pub const SUPPRESSED: &str = "#bdbdbd";
/// Fixed breaks for location quotients: under-represented below 0.8, over above 1.25.
const LQ_BREAKS: [f64; 4] = [0.5, 0.8, 1.25, 2.0];

/// Classes of one metric: `breaks[i]` is the lower bound of class `i + 1`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    pub metric: String,
    /// `quantile` (equal-count classes over the published values), `fixed`, or `diverging`
    /// (around the national value).
    pub method: &'static str,
    pub breaks: Vec<f64>,
    pub colors: Vec<&'static str>,
    pub suppressed_color: &'static str,
}

impl Classification {
    /// Classifies the published values of `metric`, diverging around `national` (the
    /// published national value of the same query) for shares: below, like and above the
    /// nation. Without a national value a share gets quantile classes.
    pub fn with_national(metric: &str, values: &[f64], national: Option<f64>) -> Classification {
        match national {
            Some(c) if metric.ends_with("_share") && c.is_finite() => {
                Classification::around(metric, values, c)
            }
            _ => Classification::new(metric, values),
        }
    }

    /// Diverging classes around `centre`: the middle class holds the values within a third of
    /// the spread of the centre, the outer ones beyond the spread, where the spread is the
    /// 80th percentile of the distances to the centre (rounded to a whole percentage point
    /// for shares, at least one), so that about a fifth of the areas fall in the outer classes.
    fn around(metric: &str, values: &[f64], centre: f64) -> Classification {
        let mut d: Vec<f64> = values
            .iter()
            .filter(|x| x.is_finite())
            .map(|x| (x - centre).abs())
            .collect();
        d.sort_by(f64::total_cmp);
        let spread = d
            .get((d.len() * 4 / 5).min(d.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0);
        let spread = ((spread * 100.0).round() / 100.0).max(0.01);
        let inner = ((spread / 3.0) * 1000.0).round() / 1000.0;
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        Classification {
            metric: metric.to_string(),
            method: "diverging",
            breaks: vec![
                r(centre - spread),
                r(centre - inner.max(0.001)),
                r(centre + inner.max(0.001)),
                r(centre + spread),
            ],
            colors: DIVERGING.to_vec(),
            suppressed_color: SUPPRESSED,
        }
    }

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

    /// WCAG relative luminance of `#rrggbb` drawn at `alpha` over `under`.
    fn drawn_luminance(hex: &str, alpha: f64, under: &str) -> f64 {
        let rgb = |h: &str| -> [f64; 3] {
            [1, 3, 5].map(|i| f64::from(u8::from_str_radix(&h[i..i + 2], 16).unwrap()))
        };
        let (c, u) = (rgb(hex), rgb(under));
        let lin = |v: f64| {
            let x = v / 255.0;
            if x <= 0.04045 {
                x / 12.92
            } else {
                ((x + 0.055) / 1.055).powf(2.4)
            }
        };
        let d: Vec<f64> = (0..3)
            .map(|i| lin((alpha * c[i] + (1.0 - alpha) * u[i]).round()))
            .collect();
        0.2126 * d[0] + 0.7152 * d[1] + 0.0722 * d[2]
    }

    #[test]
    fn every_class_stands_out_from_the_land_as_drawn() {
        let land = "#f2efe9";
        let l = drawn_luminance(land, 1.0, land);
        for c in SEQUENTIAL.iter().chain(DIVERGING.iter()) {
            let x = drawn_luminance(c, 0.88, land);
            let ratio = (l.max(x) + 0.05) / (l.min(x) + 0.05);
            assert!(ratio >= 1.5, "{c}: {ratio:.2}:1 against the land");
        }
    }

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
    fn shares_diverge_around_the_national_value() {
        let values: Vec<f64> = (0..=100).map(|i| 0.40 + f64::from(i) * 0.002).collect();
        let c = Classification::with_national("female_share", &values, Some(0.52));
        assert_eq!(c.method, "diverging");
        assert_eq!(c.colors, DIVERGING.to_vec());
        // The middle class holds the national value, with as much room below as above.
        assert_eq!(c.class_of(0.52), 2);
        let (below, above) = (0.52 - c.breaks[1], c.breaks[2] - 0.52);
        assert!(
            (below - above).abs() < 1e-9 && below > 0.0,
            "{:?}",
            c.breaks
        );
        assert_eq!(c.class_of(0.40), 0);
        assert_eq!(c.class_of(0.60), 4);
        // Counts stay quantiles; a share without a national value too.
        assert_eq!(
            Classification::with_national("count", &values, Some(0.5)).method,
            "quantile"
        );
        assert_eq!(
            Classification::with_national("female_share", &values, None).method,
            "quantile"
        );
    }

    #[test]
    fn few_distinct_values_give_fewer_classes() {
        let c = Classification::new("count", &[11.0, 11.0, 11.0, 50.0]);
        assert_eq!(c.breaks.len() + 1, c.colors.len());
        assert!(c.breaks.len() <= 1);
    }
}
