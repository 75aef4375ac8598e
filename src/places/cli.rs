//! `dyaspora places …`: list, add, update and remove associations from the command line.
//! The running service picks the changes up within a few seconds (it polls the store).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::edit::{self, PlaceError, PlaceInput};
use super::index::{KindFilter, PlaceSet};
use crate::store::Store;

#[derive(Debug, Clone, Args)]
pub struct PlacesArgs {
    #[command(subcommand)]
    pub command: PlacesCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum PlacesCommand {
    /// List the consular posts and associations.
    List {
        /// Only these `place_kind` codes (comma-separated).
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add an association.
    Add(PlaceFields),
    /// Change an association: only the fields given change.
    Update {
        id: String,
        #[command(flatten)]
        fields: PlaceFields,
    },
    /// Remove an association.
    Remove { id: String },
    /// The places nearest to a point, with great-circle distances in km.
    Nearest {
        /// Longitude, degrees east (negative in the US).
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Latitude, degrees north.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// How many places.
        #[arg(long, default_value_t = 5)]
        k: usize,
        /// Only these `place_kind` codes (comma-separated).
        #[arg(long)]
        kind: Option<String>,
    },
}

/// The fields of an association on the command line.
#[derive(Debug, Clone, Default, Args)]
pub struct PlaceFields {
    /// Id (add only; default: a fresh `assoc-…`).
    #[arg(long)]
    pub id: Option<String>,
    /// A `place_kind` code of an association (hometown, faith_based, womens…).
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    /// USPS state code (default: the state containing the point).
    #[arg(long)]
    pub state: Option<String>,
    /// Latitude, degrees north.
    #[arg(long, allow_hyphen_values = true)]
    pub lat: Option<f64>,
    /// Longitude, degrees east (negative in the US).
    #[arg(long, allow_hyphen_values = true)]
    pub lon: Option<f64>,
    /// ISIC section codes, comma-separated (e.g. Q,P).
    #[arg(long, value_delimiter = ',')]
    pub sectors: Option<Vec<String>>,
    /// `language` codes, comma-separated (e.g. ht,fr,en).
    #[arg(long, value_delimiter = ',')]
    pub languages: Option<Vec<String>>,
    /// Mark as synthetic demo data.
    #[arg(long)]
    pub demo: Option<bool>,
}

impl PlaceFields {
    /// `base` with the fields given here replaced.
    fn over(&self, mut base: PlaceInput) -> PlaceInput {
        let set = |slot: &mut Option<String>, v: &Option<String>| {
            if v.is_some() {
                slot.clone_from(v);
            }
        };
        set(&mut base.id, &self.id);
        set(&mut base.kind, &self.kind);
        set(&mut base.name, &self.name);
        set(&mut base.city, &self.city);
        set(&mut base.state, &self.state);
        base.lat = self.lat.or(base.lat);
        base.lon = self.lon.or(base.lon);
        if let Some(s) = &self.sectors {
            base.sectors.clone_from(s);
        }
        if let Some(l) = &self.languages {
            base.languages.clone_from(l);
        }
        base.is_demo = self.demo.unwrap_or(base.is_demo);
        base
    }
}

/// Runs a `places` command against the store.
///
/// # Errors
/// Only unexpected failures; refused edits print why and exit with status 2 (invalid
/// input) or 1 (unknown or read-only place).
pub fn run(store: &dyn Store, args: &PlacesArgs) -> anyhow::Result<ExitCode> {
    let outcome = match &args.command {
        PlacesCommand::List { kind, json } => return list(store, kind.as_deref(), *json),
        PlacesCommand::Nearest { lon, lat, k, kind } => {
            return nearest(store, *lon, *lat, *k, kind.as_deref())
        }
        PlacesCommand::Add(fields) => edit::create(store, &fields.over(PlaceInput::default()))
            .map(|p| format!("added {}", p.id)),
        PlacesCommand::Update { id, fields } => {
            let current = store.places()?.into_iter().find(|p| &p.id == id);
            match current {
                None if super::is_post_id(id) => Err(PlaceError::ReadOnly(id.clone())),
                None => Err(PlaceError::NotFound(id.clone())),
                Some(p) => edit::replace(store, id, &fields.over(PlaceInput::from(&p)))
                    .map(|p| format!("updated {}", p.id)),
            }
        }
        PlacesCommand::Remove { id } => edit::remove(store, id).map(|()| format!("removed {id}")),
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            Ok(ExitCode::SUCCESS)
        }
        Err(PlaceError::Store(e)) => Err(e.into()),
        Err(e @ PlaceError::Invalid { .. }) => {
            eprintln!("error: {e}");
            if let PlaceError::Invalid {
                valid: Some(valid), ..
            } = &e
            {
                eprintln!("valid: {}", valid.join(", "));
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn kinds(kind: Option<&str>) -> anyhow::Result<KindFilter> {
    match kind {
        None => Ok(KindFilter::all()),
        Some(k) => Ok(KindFilter::parse(k)?),
    }
}

fn list(store: &dyn Store, kind: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let set = PlaceSet::build(store.places()?);
    let filter = kinds(kind)?;
    let places: Vec<_> = (0..set.len())
        .filter(|&i| filter.contains(set.kind(i)))
        .map(|i| set.place(i))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&places)?);
    } else {
        println!(
            "{:<20} {:<18} {:<4} {:<22} {:>10} {:>11}  name",
            "id", "kind", "st", "city", "lat", "lon"
        );
        for p in places {
            println!(
                "{:<20} {:<18} {:<4} {:<22} {:>10.5} {:>11.5}  {}",
                p.id, p.kind, p.state, p.city, p.lat, p.lon, p.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn nearest(
    store: &dyn Store,
    lon: f64,
    lat: f64,
    k: usize,
    kind: Option<&str>,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        lon.is_finite() && (-180.0..=180.0).contains(&lon),
        "--lon must be −180 to 180"
    );
    anyhow::ensure!(
        lat.is_finite() && (-90.0..=90.0).contains(&lat),
        "--lat must be −90 to 90"
    );
    let set = PlaceSet::build(store.places()?);
    println!("{:>9}  {:<20} {:<18} name", "km", "id", "kind");
    for hit in set.nearest(lon, lat, k, kinds(kind)?) {
        let p = set.place(hit.index);
        println!(
            "{:>9.3}  {:<20} {:<18} {}",
            hit.distance_km, p.id, p.kind, p.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
