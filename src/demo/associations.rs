//! Synthetic diaspora associations of the kinds the Georgetown/IDB 2009 study describes
//! (hometown associations most numerous, then faith-based, professional, community centres,
//! student and youth, women's, cultural and alumni groups), in the diaspora's cities in
//! proportion to their population. Their names are built on real Haitian communes and
//! always end in "(demo)" or "(démo)"; every one is marked `is_demo`.

use std::collections::HashSet;

use rand::Rng;

use crate::geodata::Geodata;
use crate::places::Place;

use super::geography::Sites;

/// About how many associations are generated (one more per consulate state left empty).
pub const TARGET: usize = 300;

/// A city where associations may be: the name used in association names, the city and state
/// of the place, a ZIP for its position, and its weight (thousands of Haiti-born people,
/// our estimate).
struct City {
    label: &'static str,
    city: &'static str,
    state: &'static str,
    zip: &'static str,
    weight: f64,
}

const fn city(
    label: &'static str,
    city: &'static str,
    state: &'static str,
    zip: &'static str,
    weight: f64,
) -> City {
    City {
        label,
        city,
        state,
        zip,
        weight,
    }
}

const CITIES: &[City] = &[
    city("Little Haiti", "Miami", "FL", "33137", 14.0),
    city("Miami", "Miami", "FL", "33150", 12.0),
    city("North Miami", "North Miami", "FL", "33161", 18.0),
    city(
        "North Miami Beach",
        "North Miami Beach",
        "FL",
        "33162",
        12.0,
    ),
    city("Miami Gardens", "Miami Gardens", "FL", "33056", 8.0),
    city("Homestead", "Homestead", "FL", "33030", 4.0),
    city("Fort Lauderdale", "Fort Lauderdale", "FL", "33311", 10.0),
    city("Lauderhill", "Lauderhill", "FL", "33313", 12.0),
    city("Lauderdale Lakes", "Lauderdale Lakes", "FL", "33319", 7.0),
    city("North Lauderdale", "North Lauderdale", "FL", "33068", 5.0),
    city("Miramar", "Miramar", "FL", "33023", 12.0),
    city("Pompano Beach", "Pompano Beach", "FL", "33060", 9.0),
    city("Tamarac", "Tamarac", "FL", "33321", 4.0),
    city("Delray Beach", "Delray Beach", "FL", "33444", 15.0),
    city("Boynton Beach", "Boynton Beach", "FL", "33435", 10.0),
    city("Lake Worth", "Lake Worth Beach", "FL", "33460", 12.0),
    city("West Palm Beach", "West Palm Beach", "FL", "33407", 14.0),
    city("Riviera Beach", "Riviera Beach", "FL", "33404", 4.0),
    city("Belle Glade", "Belle Glade", "FL", "33430", 3.0),
    city("Orlando", "Orlando", "FL", "32808", 18.0),
    city("Pine Hills", "Orlando", "FL", "32818", 8.0),
    city("Apopka", "Apopka", "FL", "32703", 2.0),
    city("Port St. Lucie", "Port St. Lucie", "FL", "34983", 7.0),
    city("Fort Pierce", "Fort Pierce", "FL", "34950", 5.0),
    city("Immokalee", "Immokalee", "FL", "34142", 4.0),
    city("Naples", "Naples", "FL", "34116", 3.0),
    city("Fort Myers", "Fort Myers", "FL", "33916", 3.0),
    city("Tampa", "Tampa", "FL", "33610", 6.0),
    city("Jacksonville", "Jacksonville", "FL", "32208", 4.5),
    city("Flatbush", "Brooklyn", "NY", "11226", 16.0),
    city("East Flatbush", "Brooklyn", "NY", "11203", 16.0),
    city("Canarsie", "Brooklyn", "NY", "11236", 13.0),
    city("Crown Heights", "Brooklyn", "NY", "11225", 6.0),
    city("Cambria Heights", "Queens", "NY", "11411", 6.0),
    city("Queens Village", "Queens", "NY", "11429", 7.0),
    city("Springfield Gardens", "Queens", "NY", "11413", 6.0),
    city("St. Albans", "Queens", "NY", "11412", 3.0),
    city("Elmont", "Elmont", "NY", "11003", 3.0),
    city("Spring Valley", "Spring Valley", "NY", "10977", 5.0),
    city("Mount Vernon", "Mount Vernon", "NY", "10550", 3.0),
    city("Hempstead", "Hempstead", "NY", "11550", 2.0),
    city("Mattapan", "Boston", "MA", "02126", 9.0),
    city("Dorchester", "Boston", "MA", "02124", 11.0),
    city("Hyde Park", "Boston", "MA", "02136", 5.0),
    city("Brockton", "Brockton", "MA", "02301", 10.0),
    city("Randolph", "Randolph", "MA", "02368", 4.0),
    city("Everett", "Everett", "MA", "02149", 3.0),
    city("Malden", "Malden", "MA", "02148", 3.0),
    city("Cambridge", "Cambridge", "MA", "02139", 4.0),
    city("Somerville", "Somerville", "MA", "02145", 1.0),
    city("Medford", "Medford", "MA", "02155", 2.0),
    city("Milton", "Milton", "MA", "02186", 2.0),
    city("Irvington", "Irvington", "NJ", "07111", 6.0),
    city("East Orange", "East Orange", "NJ", "07017", 7.0),
    city("Newark", "Newark", "NJ", "07106", 7.0),
    city("Orange", "Orange", "NJ", "07050", 2.0),
    city("Elizabeth", "Elizabeth", "NJ", "07201", 3.5),
    city("Union", "Union", "NJ", "07083", 1.0),
    city("Plainfield", "Plainfield", "NJ", "07060", 1.0),
    city("Asbury Park", "Asbury Park", "NJ", "07712", 1.0),
    city("Teaneck", "Teaneck", "NJ", "07666", 1.0),
    city("Stone Mountain", "Stone Mountain", "GA", "30083", 4.5),
    city("Lithonia", "Lithonia", "GA", "30058", 2.0),
    city("Decatur", "Decatur", "GA", "30035", 2.0),
    city("Atlanta", "Atlanta", "GA", "30349", 3.0),
    city("Lawrenceville", "Lawrenceville", "GA", "30044", 2.5),
    city("Norcross", "Norcross", "GA", "30093", 1.0),
    city("Stamford", "Stamford", "CT", "06902", 3.5),
    city("Norwalk", "Norwalk", "CT", "06854", 2.0),
    city("Bridgeport", "Bridgeport", "CT", "06606", 1.0),
    city("Hartford", "Hartford", "CT", "06112", 1.5),
    city("New Haven", "New Haven", "CT", "06511", 0.5),
    city("Philadelphia", "Philadelphia", "PA", "19120", 7.0),
    city("Houston", "Houston", "TX", "77072", 3.0),
    city("Dallas", "Dallas", "TX", "75243", 1.5),
    city("Silver Spring", "Silver Spring", "MD", "20906", 3.0),
    city("Hyattsville", "Hyattsville", "MD", "20783", 2.0),
    city("Baltimore", "Baltimore", "MD", "21215", 1.5),
    city("Springfield", "Springfield", "OH", "45505", 5.0),
    city("Columbus", "Columbus", "OH", "43229", 1.5),
    city("Charlotte", "Charlotte", "NC", "28215", 2.0),
    city("Raleigh", "Raleigh", "NC", "27610", 1.0),
    city("Fayetteville", "Fayetteville", "NC", "28314", 1.0),
    city("Chicago", "Chicago", "IL", "60626", 3.0),
    city("Evanston", "Evanston", "IL", "60201", 1.2),
    city("Alexandria", "Alexandria", "VA", "22304", 1.0),
    city("Norfolk", "Norfolk", "VA", "23513", 1.0),
    city("Providence", "Providence", "RI", "02908", 1.5),
    city("Pawtucket", "Pawtucket", "RI", "02860", 0.7),
    city("Indianapolis", "Indianapolis", "IN", "46226", 2.0),
    city("Wilmington", "Wilmington", "DE", "19802", 1.0),
    city("Georgetown", "Georgetown", "DE", "19947", 0.8),
    city("Washington", "Washington", "DC", "20011", 1.0),
    city("Nashville", "Nashville", "TN", "37013", 0.8),
    city("Detroit", "Detroit", "MI", "48235", 0.5),
];

/// Real Haitian communes: the name and its French "de" form.
const COMMUNES: &[(&str, &str)] = &[
    ("Jérémie", "de Jérémie"),
    ("Jacmel", "de Jacmel"),
    ("Les Cayes", "des Cayes"),
    ("Cap-Haïtien", "du Cap-Haïtien"),
    ("Port-de-Paix", "de Port-de-Paix"),
    ("Saint-Marc", "de Saint-Marc"),
    ("Gonaïves", "des Gonaïves"),
    ("Hinche", "de Hinche"),
    ("Miragoâne", "de Miragoâne"),
    ("Fort-Liberté", "de Fort-Liberté"),
    ("Petit-Goâve", "de Petit-Goâve"),
    ("Léogâne", "de Léogâne"),
    ("Aquin", "d'Aquin"),
    ("Limbé", "du Limbé"),
    ("Ouanaminthe", "de Ouanaminthe"),
    ("Jean-Rabel", "de Jean-Rabel"),
    ("Anse-à-Veau", "d'Anse-à-Veau"),
    ("Dame-Marie", "de Dame-Marie"),
    ("Corail", "de Corail"),
    ("Bainet", "de Bainet"),
    ("Port-Salut", "de Port-Salut"),
    ("Mirebalais", "de Mirebalais"),
    ("Plaisance", "de Plaisance"),
    ("Milot", "de Milot"),
    ("Trou-du-Nord", "du Trou-du-Nord"),
    ("Saint-Louis-du-Nord", "de Saint-Louis-du-Nord"),
    ("Verrettes", "des Verrettes"),
    ("Croix-des-Bouquets", "de Croix-des-Bouquets"),
    ("Arcahaie", "de l'Arcahaie"),
    ("Camp-Perrin", "de Camp-Perrin"),
    ("Cavaillon", "de Cavaillon"),
    ("Belle-Anse", "de Belle-Anse"),
    ("Marigot", "de Marigot"),
    ("Anse-d'Hainault", "d'Anse-d'Hainault"),
    ("Grande-Rivière-du-Nord", "de Grande-Rivière-du-Nord"),
    (
        "Petite-Rivière-de-l'Artibonite",
        "de Petite-Rivière-de-l'Artibonite",
    ),
];

/// Biblical names that Haitian congregations commonly take.
const CHURCH_NAMES: &[&str] = &[
    "Béthel",
    "Ebenezer",
    "Shiloh",
    "Emmaüs",
    "Sion",
    "Maranatha",
    "Bethesda",
    "Horeb",
    "Galilée",
    "Siloé",
];
const SAINTS: &[&str] = &[
    "Jean-Baptiste",
    "Pierre",
    "Joseph",
    "Antoine",
    "Louis",
    "Michel",
    "Jacques",
    "Thérèse",
];

/// Kinds (place_kind codes) and their shares.
const KINDS: &[(&str, f64)] = &[
    ("hometown", 0.38),
    ("faith_based", 0.18),
    ("professional", 0.12),
    ("community_centre", 0.10),
    ("student_youth", 0.08),
    ("womens", 0.08),
    ("cultural_alumni", 0.06),
];

/// ISIC sections (with the chance of each) of a kind of association, or of one profession.
type Sectors = &'static [(&'static str, f64)];

const HOMETOWN: Sectors = &[("P", 0.6), ("Q", 0.5), ("A", 0.35), ("F", 0.3), ("E", 0.2)];
const FAITH: Sectors = &[("S", 0.7), ("Q", 0.35), ("P", 0.35)];
const COMMUNITY: Sectors = &[("Q", 0.6), ("P", 0.5), ("N", 0.3), ("S", 0.3)];
const YOUTH: Sectors = &[("P", 0.8), ("R", 0.4)];
const WOMEN: Sectors = &[("Q", 0.5), ("P", 0.4), ("S", 0.3), ("G", 0.15)];
const CULTURE: Sectors = &[("R", 0.8), ("P", 0.4)];
const HEALTH: Sectors = &[("Q", 1.0), ("P", 0.2)];

/// Name templates per kind with their sectors: `{c}` commune, `{dc}` "de Jérémie", `{p}`
/// place, `{dp}` "de Boston" / "d'Everett", `{ap}` "à Boston", `{x}` a church name, `{s}` a
/// saint.
fn templates(kind: &str) -> &'static [(&'static str, Sectors)] {
    match kind {
        "hometown" => &[
            ("Association des Fils et Filles {dc} {dp} (démo)", HOMETOWN),
            ("Amicale {dc} {ap} (démo)", HOMETOWN),
            ("Rasanbleman Pitit {c} nan {p} (demo)", HOMETOWN),
            ("{c} Hometown Association of {p} (demo)", HOMETOWN),
            ("Union des Natifs {dc} – {p} (démo)", HOMETOWN),
            ("Solidarité {c} – {p} (démo)", HOMETOWN),
        ],
        "faith_based" => &[
            ("Église Baptiste Haïtienne {x} {dp} (démo)", FAITH),
            ("Église Adventiste Haïtienne {x} {dp} (démo)", FAITH),
            ("Mission Évangélique Haïtienne {x} {dp} (démo)", FAITH),
            (
                "Communauté Catholique Haïtienne Saint-{s} {dp} (démo)",
                FAITH,
            ),
            ("Legliz Pannkòt {x} nan {p} (demo)", FAITH),
        ],
        "professional" => &[
            (
                "Association des Infirmières et Infirmiers Haïtiens {dp} (démo)",
                HEALTH,
            ),
            ("Haitian American Nurses Circle of {p} (demo)", HEALTH),
            ("Réseau des Médecins Haïtiens {dp} (démo)", HEALTH),
            ("Haitian Home Health Aides Network of {p} (demo)", HEALTH),
            (
                "Haitian Engineers and Architects Network of {p} (demo)",
                &[("M", 1.0), ("F", 0.5), ("J", 0.2)],
            ),
            (
                "Association des Enseignants Haïtiens {dp} (démo)",
                &[("P", 1.0)],
            ),
            (
                "Haitian American Business Network of {p} (demo)",
                &[("G", 0.7), ("K", 0.5), ("M", 0.3), ("L", 0.2)],
            ),
            (
                "Association des Chauffeurs et Transporteurs Haïtiens {dp} (démo)",
                &[("H", 1.0)],
            ),
            (
                "Haitian Lawyers Circle of {p} (demo)",
                &[("M", 1.0), ("O", 0.2)],
            ),
        ],
        "community_centre" => &[
            ("Centre Communautaire Haïtien {dp} (démo)", COMMUNITY),
            ("Sant Kominotè Ayisyen {p} (demo)", COMMUNITY),
            ("Haitian Community Resource Center of {p} (demo)", COMMUNITY),
            ("Lakou Kominotè {c} – {p} (demo)", COMMUNITY),
            ("Haitian Family Services Center of {p} (demo)", COMMUNITY),
        ],
        "student_youth" => &[
            ("Haitian Student Association of {p} (demo)", YOUTH),
            ("Jeunesse Haïtienne {dp} (démo)", YOUTH),
            ("Jèn Pitit {c} nan {p} (demo)", YOUTH),
            ("Haitian Youth Leadership Club of {p} (demo)", YOUTH),
        ],
        "womens" => &[
            ("Association des Femmes Haïtiennes {dp} (démo)", WOMEN),
            ("Fanm {c} nan {p} (demo)", WOMEN),
            ("Haitian Women's Circle of {p} (demo)", WOMEN),
            ("Fanm Vanyan {p} (demo)", WOMEN),
        ],
        _ => &[
            ("Anciens Élèves {dc} {ap} (démo)", CULTURE),
            ("Troupe Culturelle {c} {dp} (démo)", CULTURE),
            ("Société Culturelle {c} {dp} (démo)", CULTURE),
            ("Amicale des Anciens {dc} {dp} (démo)", CULTURE),
        ],
    }
}

fn languages_of<R: Rng + ?Sized>(rng: &mut R, kind: &str) -> Vec<String> {
    let (base, optional): (&[&str], &[(&str, f64)]) = match kind {
        "professional" | "student_youth" => (&["ht", "en"], &[("fr", 0.5)]),
        "community_centre" => (&["ht", "en"], &[("fr", 0.4), ("es", 0.1)]),
        _ => (&["ht", "fr"], &[("en", 0.4)]),
    };
    let mut out: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    for (code, p) in optional {
        if rng.random_bool(*p) {
            out.push(code.to_string());
        }
    }
    out
}

/// The French preposition "de" before a place name, elided before a vowel.
fn de(place: &str) -> String {
    match place.chars().next() {
        Some('A' | 'E' | 'I' | 'O' | 'U' | 'É') => format!("d'{place}"),
        _ => format!("de {place}"),
    }
}

fn pick<T: Copy, R: Rng + ?Sized>(rng: &mut R, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

fn pick_weighted<'a, R: Rng + ?Sized>(rng: &mut R, items: &'a [(&'a str, f64)]) -> &'a str {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut u = rng.random::<f64>() * total;
    for (item, w) in items {
        if u < *w {
            return item;
        }
        u -= w;
    }
    items[items.len() - 1].0
}

/// About [`TARGET`] associations, sorted by state, city and name, with ids
/// `demo-assoc-001`…; at least one in the state of every consular post.
pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Vec<Place> {
    let geo = Geodata::get();
    let sites = Sites::get();
    // Small communities found associations more readily than their size alone suggests.
    let weights: Vec<(usize, f64)> = CITIES
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.weight.powf(0.85)))
        .collect();
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut chosen: Vec<&City> = (0..TARGET)
        .map(|_| {
            let mut u = rng.random::<f64>() * total;
            let i = weights.iter().find(|(_, w)| {
                let hit = u < *w;
                u -= w;
                hit
            });
            &CITIES[i.map_or(CITIES.len() - 1, |w| w.0)]
        })
        .collect();
    for post in &geo.posts {
        if !chosen.iter().any(|c| c.state == post.state) {
            let biggest = CITIES
                .iter()
                .filter(|c| c.state == post.state)
                .max_by(|a, b| a.weight.total_cmp(&b.weight));
            chosen.extend(biggest);
        }
    }

    let mut names = HashSet::new();
    let mut places: Vec<Place> = chosen
        .into_iter()
        .map(|city| {
            let kind = pick_weighted(rng, KINDS);
            let (name, options) = unique_name(rng, kind, city, &mut names);
            let site = sites
                .by_zip(city.zip)
                .unwrap_or_else(|| panic!("demo association ZIP {} is usable", city.zip));
            // On land: a jittered point in no state outline (water) is drawn again.
            let (lat, lon) = (0..20)
                .map(|_| site.locate(geo, rng))
                .find(|at| geo.state_at(at.lon, at.lat).is_some())
                .map_or((site.lat, site.lon), |at| (at.lat, at.lon));
            let mut sectors: Vec<String> = Vec::new();
            while sectors.is_empty() {
                sectors = options
                    .iter()
                    .filter(|(_, p)| rng.random_bool(*p))
                    .map(|(s, _)| s.to_string())
                    .collect();
            }
            sectors.truncate(3);
            Place {
                id: String::new(),
                kind: kind.to_string(),
                name,
                city: city.city.to_string(),
                state: city.state.to_string(),
                lat,
                lon,
                sectors,
                languages: languages_of(rng, kind),
                is_demo: true,
            }
        })
        .collect();
    places.sort_by(|a, b| (&a.state, &a.city, &a.name).cmp(&(&b.state, &b.city, &b.name)));
    for (i, place) in places.iter_mut().enumerate() {
        place.id = format!("demo-assoc-{:03}", i + 1);
    }
    places
}

/// A name not yet taken, and the sectors its template implies.
fn unique_name<R: Rng + ?Sized>(
    rng: &mut R,
    kind: &str,
    city: &City,
    taken: &mut HashSet<String>,
) -> (String, Sectors) {
    let templates = templates(kind);
    for attempt in 0.. {
        let (commune, de_commune) = pick(rng, COMMUNES);
        let (template, sectors) = pick(rng, templates);
        let mut name = template
            .replace("{dc}", de_commune)
            .replace("{c}", commune)
            .replace("{dp}", &de(city.label))
            .replace("{ap}", &format!("à {}", city.label))
            .replace("{p}", city.label)
            .replace("{x}", pick(rng, CHURCH_NAMES))
            .replace("{s}", pick(rng, SAINTS));
        if attempt >= 50 {
            // Only reachable with far more associations than cities × templates.
            let demo = name.rfind(" (").expect("a demo marker");
            name.insert_str(demo, &format!(" {}", attempt - 48));
        }
        if taken.insert(name.clone()) {
            return (name, sectors);
        }
    }
    unreachable!("the loop returns")
}
