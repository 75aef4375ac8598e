//! Who the demo records are: the answers of one synthetic respondent, drawn with plausible
//! mixes and correlations (age → generation → years in the US → education → occupation →
//! sectors; remittances by generation, education and frequency; needs and channels by age
//! and arrival). The rates are modelling assumptions for a demonstration, not estimates.
//!
//! Codes are resolved by name against the codebook once ([`Model::new`]), so the tables
//! below read as the codes of `geodata/codes.csv`.

use rand::Rng;
use time::Date;

use crate::codes::{CodeList, CodeSet, Codebook};
use crate::record::{LocationSource, Record};

use super::geography::Located;

/// A categorical distribution over code indexes (cumulative weights, linear scan: the lists
/// are short).
#[derive(Clone, Debug)]
struct Cat {
    codes: Vec<u8>,
    cumulative: Vec<f64>,
}

impl Cat {
    fn new(book: &Codebook, list: CodeList, weights: &[(&str, f64)]) -> Cat {
        let indexes: Vec<(u8, f64)> = weights
            .iter()
            .map(|(c, w)| (ix(book, list, c), *w))
            .collect();
        Cat::from_indexes(&indexes)
    }

    fn from_indexes(weights: &[(u8, f64)]) -> Cat {
        let mut total = 0.0;
        let mut codes = Vec::with_capacity(weights.len());
        let mut cumulative = Vec::with_capacity(weights.len());
        for &(code, w) in weights.iter().filter(|(_, w)| *w > 0.0) {
            total += w;
            codes.push(code);
            cumulative.push(total);
        }
        assert!(total > 0.0, "a distribution needs a positive weight");
        cumulative.iter_mut().for_each(|c| *c /= total);
        Cat { codes, cumulative }
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u8 {
        let u = unit(rng);
        let i = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.codes.len() - 1);
        self.codes[i]
    }
}

fn ix(book: &Codebook, list: CodeList, code: &str) -> u8 {
    book.index(list, code)
        .unwrap_or_else(|e| panic!("demo model: {e}"))
}

/// Independent yes/no rates per code of a multi-select list.
#[derive(Clone, Debug)]
struct Rates(Vec<(u8, f64)>);

impl Rates {
    fn new(book: &Codebook, list: CodeList, rates: &[(&str, f64)]) -> Rates {
        Rates(rates.iter().map(|(c, p)| (ix(book, list, c), *p)).collect())
    }

    /// Draws the set, with `adjust(code, rate)` giving the person's own rate.
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R, adjust: impl Fn(u8, f64) -> f64) -> CodeSet {
        let mut set = CodeSet::default();
        for &(code, p) in &self.0 {
            // Branch-free: these draws are coin flips a branch predictor cannot learn.
            set.0 |= u32::from(unit(rng) < adjust(code, p).min(0.97)) << code;
        }
        set
    }
}

const AGE_BANDS: [&str; 6] = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];
const EDUCATION: [&str; 6] = [
    "primary",
    "secondary",
    "vocational",
    "bachelor",
    "master",
    "doctorate",
];
const OCCUPATIONS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// A survey round and its fieldwork window (inclusive, in the past).
struct Round {
    name: &'static str,
    share: f64,
    first: (i32, u8, u8),
    last: (i32, u8, u8),
}

const ROUNDS: [Round; 2] = [
    Round {
        name: "2025-R1",
        share: 0.42,
        first: (2025, 2, 3),
        last: (2025, 5, 30),
    },
    Round {
        name: "2026-R1",
        share: 0.58,
        first: (2026, 2, 2),
        last: (2026, 6, 26),
    },
];

fn julian(ymd: (i32, u8, u8)) -> i32 {
    let month = time::Month::try_from(ymd.1).expect("valid month");
    Date::from_calendar_date(ymd.0, month, ymd.2)
        .expect("valid date")
        .to_julian_day()
}

/// The respondent model with every code resolved to its index.
pub struct Model {
    gender: Cat,
    gender_f: u8,
    gender_m: u8,
    /// Age band by position in [`AGE_BANDS`].
    age: Cat,
    age_bands: [u8; 6],
    born_haiti: u8,
    born_abroad: u8,
    /// Years in the US by age band, for people born in Haiti / born abroad.
    years_haiti: Vec<Cat>,
    years_abroad_young: Cat,
    years_abroad: Cat,
    lt5: u8,
    education: [u8; 6],
    occupation: [u8; 10],
    occupation_f: [f64; 10],
    occupation_m: [f64; 10],
    /// Main sector by occupation group, for women / men.
    sector_f: Vec<Cat>,
    sector_m: Vec<Cat>,
    sector_general: Cat,
    sector: SectorIx,
    department: Cat,
    support: Rates,
    frequency: Cat,
    frequency_abroad: Cat,
    freq_monthly: u8,
    freq_yearly: u8,
    freq_occasional: u8,
    channel_mto: u8,
    channel_mobile: u8,
    channel_bank: u8,
    channel_hand: u8,
    channel_other: u8,
    needs: Rates,
    need: NeedIx,
    difficulties: Rates,
    difficulty: DifficultyIx,
    willingness: Rates,
    willing: WillingIx,
    channels: Rates,
    chan: ChannelIx,
    lang: [u8; 4],
    modes: [u8; 4],
    rounds: Vec<(&'static str, f64, i32, i32)>,
}

struct SectorIx {
    p: u8,
    q: u8,
    a: u8,
    f: u8,
}

struct NeedIx {
    consular_documents: u8,
    investment_info: u8,
    transfer_costs: u8,
    legal_advice: u8,
    language_classes: u8,
    employment: u8,
    education_children: u8,
    business_support: u8,
}

struct DifficultyIx {
    high_transfer_costs: u8,
    credential_recognition: u8,
    language_barrier: u8,
    document_delays: u8,
}

struct WillingIx {
    skills_transfer_missions: u8,
    remote_expertise: u8,
    teaching: u8,
    investing: u8,
    mentoring: u8,
}

struct ChannelIx {
    whatsapp: u8,
    facebook: u8,
    radio_tv: u8,
    church: u8,
    association: u8,
    email: u8,
    instagram: u8,
    tiktok: u8,
}

impl Model {
    pub fn new(book: &Codebook) -> Model {
        use CodeList as L;
        let cat = |list, w: &[(&str, f64)]| Cat::new(book, list, w);
        let i = |list, code: &str| ix(book, list, code);
        let years = |w: [f64; 4]| {
            cat(
                L::YearsInUs,
                &[("lt5", w[0]), ("5-9", w[1]), ("10-19", w[2]), ("20+", w[3])],
            )
        };
        let sector_cats = |table: &[&[(&str, f64)]; 10]| -> Vec<Cat> {
            table.iter().map(|w| cat(L::Sector, w)).collect()
        };
        // Main sector by ISCO major group 0..=9 (women, then men).
        let sector_f: [&[(&str, f64)]; 10] = [
            &[("O", 1.0)],
            &[
                ("G", 0.3),
                ("Q", 0.2),
                ("K", 0.15),
                ("M", 0.12),
                ("I", 0.1),
                ("L", 0.08),
                ("P", 0.05),
            ],
            &[
                ("Q", 0.55),
                ("P", 0.2),
                ("M", 0.07),
                ("K", 0.05),
                ("J", 0.04),
                ("O", 0.05),
                ("R", 0.04),
            ],
            &[
                ("Q", 0.45),
                ("N", 0.1),
                ("K", 0.1),
                ("M", 0.1),
                ("P", 0.1),
                ("J", 0.05),
                ("O", 0.05),
                ("H", 0.05),
            ],
            &[
                ("Q", 0.3),
                ("K", 0.15),
                ("O", 0.15),
                ("N", 0.2),
                ("G", 0.12),
                ("H", 0.08),
            ],
            &[("Q", 0.45), ("I", 0.2), ("G", 0.2), ("S", 0.1), ("N", 0.05)],
            &[("A", 0.95), ("C", 0.05)],
            &[("C", 0.4), ("S", 0.3), ("I", 0.2), ("F", 0.1)],
            &[("H", 0.45), ("C", 0.5), ("F", 0.05)],
            &[
                ("N", 0.3),
                ("I", 0.2),
                ("Q", 0.18),
                ("T", 0.12),
                ("C", 0.1),
                ("H", 0.05),
                ("A", 0.05),
            ],
        ];
        let sector_m: [&[(&str, f64)]; 10] = [
            &[("O", 1.0)],
            &[
                ("G", 0.3),
                ("K", 0.15),
                ("M", 0.15),
                ("Q", 0.1),
                ("I", 0.1),
                ("L", 0.1),
                ("F", 0.1),
            ],
            &[
                ("Q", 0.3),
                ("P", 0.2),
                ("M", 0.15),
                ("J", 0.12),
                ("K", 0.08),
                ("O", 0.08),
                ("R", 0.04),
                ("F", 0.03),
            ],
            &[
                ("Q", 0.2),
                ("J", 0.15),
                ("M", 0.15),
                ("H", 0.1),
                ("C", 0.1),
                ("F", 0.1),
                ("K", 0.1),
                ("N", 0.1),
            ],
            &[
                ("Q", 0.2),
                ("K", 0.15),
                ("O", 0.15),
                ("N", 0.2),
                ("G", 0.15),
                ("H", 0.15),
            ],
            &[("N", 0.3), ("G", 0.25), ("I", 0.2), ("Q", 0.15), ("S", 0.1)],
            &[("A", 0.95), ("C", 0.05)],
            &[("F", 0.6), ("C", 0.2), ("S", 0.1), ("G", 0.1)],
            &[("H", 0.65), ("C", 0.25), ("F", 0.1)],
            &[
                ("N", 0.3),
                ("H", 0.2),
                ("I", 0.15),
                ("F", 0.12),
                ("C", 0.1),
                ("A", 0.08),
                ("Q", 0.05),
            ],
        ];
        Model {
            gender: cat(L::Gender, &[("f", 0.52), ("m", 0.47), ("x", 0.01)]),
            gender_f: i(L::Gender, "f"),
            gender_m: i(L::Gender, "m"),
            age: Cat::from_indexes(&[
                (0, 0.10),
                (1, 0.21),
                (2, 0.23),
                (3, 0.20),
                (4, 0.15),
                (5, 0.11),
            ]),
            age_bands: AGE_BANDS.map(|c| i(L::AgeBand, c)),
            born_haiti: i(L::Generation, "born_haiti"),
            born_abroad: i(L::Generation, "born_abroad"),
            years_haiti: vec![
                years([0.45, 0.30, 0.25, 0.0]),
                years([0.25, 0.25, 0.35, 0.15]),
                years([0.12, 0.15, 0.35, 0.38]),
                years([0.07, 0.10, 0.28, 0.55]),
                years([0.05, 0.07, 0.20, 0.68]),
                years([0.04, 0.05, 0.16, 0.75]),
            ],
            years_abroad_young: years([0.0, 0.0, 0.55, 0.45]),
            years_abroad: years([0.0, 0.02, 0.06, 0.92]),
            lt5: i(L::YearsInUs, "lt5"),
            education: EDUCATION.map(|c| i(L::Education, c)),
            occupation: OCCUPATIONS.map(|c| i(L::Occupation, c)),
            occupation_f: [0.002, 0.04, 0.17, 0.11, 0.10, 0.34, 0.01, 0.02, 0.05, 0.15],
            occupation_m: [0.015, 0.06, 0.11, 0.10, 0.06, 0.20, 0.03, 0.15, 0.17, 0.13],
            sector_f: sector_cats(&sector_f),
            sector_m: sector_cats(&sector_m),
            sector_general: cat(
                L::Sector,
                &[
                    ("Q", 0.2),
                    ("P", 0.15),
                    ("G", 0.12),
                    ("I", 0.1),
                    ("H", 0.1),
                    ("F", 0.08),
                    ("S", 0.08),
                    ("R", 0.05),
                    ("A", 0.05),
                    ("M", 0.04),
                    ("J", 0.03),
                ],
            ),
            sector: SectorIx {
                p: i(L::Sector, "P"),
                q: i(L::Sector, "Q"),
                a: i(L::Sector, "A"),
                f: i(L::Sector, "F"),
            },
            department: cat(
                L::Department,
                &[
                    ("HT-OU", 0.38),
                    ("HT-ND", 0.13),
                    ("HT-SD", 0.10),
                    ("HT-AR", 0.10),
                    ("HT-GA", 0.07),
                    ("HT-SE", 0.06),
                    ("HT-NI", 0.05),
                    ("HT-NO", 0.05),
                    ("HT-NE", 0.03),
                    ("HT-CE", 0.03),
                ],
            ),
            support: Rates::new(
                book,
                L::Sector,
                &[
                    ("P", 0.45),
                    ("Q", 0.40),
                    ("A", 0.30),
                    ("F", 0.18),
                    ("E", 0.12),
                    ("D", 0.08),
                    ("G", 0.07),
                    ("I", 0.06),
                    ("C", 0.06),
                    ("J", 0.06),
                    ("H", 0.05),
                    ("K", 0.04),
                    ("R", 0.04),
                    ("S", 0.03),
                ],
            ),
            frequency: cat(
                L::RemitFrequency,
                &[
                    ("monthly", 0.52),
                    ("quarterly", 0.16),
                    ("yearly", 0.07),
                    ("occasional", 0.25),
                ],
            ),
            frequency_abroad: cat(
                L::RemitFrequency,
                &[
                    ("monthly", 0.30),
                    ("quarterly", 0.15),
                    ("yearly", 0.10),
                    ("occasional", 0.45),
                ],
            ),
            freq_monthly: i(L::RemitFrequency, "monthly"),
            freq_yearly: i(L::RemitFrequency, "yearly"),
            freq_occasional: i(L::RemitFrequency, "occasional"),
            channel_mto: i(L::RemitChannel, "money_transfer_operator"),
            channel_mobile: i(L::RemitChannel, "mobile_money"),
            channel_bank: i(L::RemitChannel, "bank"),
            channel_hand: i(L::RemitChannel, "hand_carried"),
            channel_other: i(L::RemitChannel, "other"),
            needs: Rates::new(
                book,
                L::Need,
                &[
                    ("consular_documents", 0.40),
                    ("investment_info", 0.18),
                    ("transfer_costs", 0.25),
                    ("legal_advice", 0.25),
                    ("health_insurance", 0.30),
                    ("housing", 0.28),
                    ("language_classes", 0.12),
                    ("employment", 0.22),
                    ("education_children", 0.20),
                    ("business_support", 0.14),
                ],
            ),
            need: NeedIx {
                consular_documents: i(L::Need, "consular_documents"),
                investment_info: i(L::Need, "investment_info"),
                transfer_costs: i(L::Need, "transfer_costs"),
                legal_advice: i(L::Need, "legal_advice"),
                language_classes: i(L::Need, "language_classes"),
                employment: i(L::Need, "employment"),
                education_children: i(L::Need, "education_children"),
                business_support: i(L::Need, "business_support"),
            },
            difficulties: Rates::new(
                book,
                L::Difficulty,
                &[
                    ("document_delays", 0.38),
                    ("high_transfer_costs", 0.30),
                    ("lack_of_information", 0.30),
                    ("distrust_institutions", 0.25),
                    ("insecurity_in_haiti", 0.55),
                    ("credential_recognition", 0.15),
                    ("language_barrier", 0.12),
                    ("discrimination", 0.20),
                ],
            ),
            difficulty: DifficultyIx {
                high_transfer_costs: i(L::Difficulty, "high_transfer_costs"),
                credential_recognition: i(L::Difficulty, "credential_recognition"),
                language_barrier: i(L::Difficulty, "language_barrier"),
                document_delays: i(L::Difficulty, "document_delays"),
            },
            willingness: Rates::new(
                book,
                L::Willingness,
                &[
                    ("skills_transfer_missions", 0.16),
                    ("mentoring", 0.22),
                    ("volunteering", 0.30),
                    ("investing", 0.14),
                    ("remote_expertise", 0.16),
                    ("donations", 0.35),
                    ("teaching", 0.12),
                    ("association_leadership", 0.07),
                ],
            ),
            willing: WillingIx {
                skills_transfer_missions: i(L::Willingness, "skills_transfer_missions"),
                remote_expertise: i(L::Willingness, "remote_expertise"),
                teaching: i(L::Willingness, "teaching"),
                investing: i(L::Willingness, "investing"),
                mentoring: i(L::Willingness, "mentoring"),
            },
            channels: Rates::new(
                book,
                L::Channel,
                &[
                    ("whatsapp", 0.78),
                    ("facebook", 0.58),
                    ("haitian_radio_tv", 0.35),
                    ("church", 0.38),
                    ("association", 0.05),
                    ("email", 0.22),
                    ("sms", 0.18),
                    ("consulate_events", 0.06),
                    ("instagram", 0.16),
                    ("tiktok", 0.10),
                ],
            ),
            chan: ChannelIx {
                whatsapp: i(L::Channel, "whatsapp"),
                facebook: i(L::Channel, "facebook"),
                radio_tv: i(L::Channel, "haitian_radio_tv"),
                church: i(L::Channel, "church"),
                association: i(L::Channel, "association"),
                email: i(L::Channel, "email"),
                instagram: i(L::Channel, "instagram"),
                tiktok: i(L::Channel, "tiktok"),
            },
            lang: ["ht", "fr", "en", "es"].map(|c| i(L::Language, c)),
            modes: ["online", "phone", "in_person", "consulate"].map(|c| i(L::CollectionMode, c)),
            rounds: ROUNDS
                .iter()
                .map(|r| (r.name, r.share, julian(r.first), julian(r.last)))
                .collect(),
        }
    }

    /// One respondent living at `at`.
    pub fn person<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        external_id: String,
        zip: &str,
        at: Located<'_>,
    ) -> Record {
        let h3_cell = h3o::LatLng::new(at.lat, at.lon)
            .expect("finite coordinates")
            .to_cell(crate::record::FINEST_RES)
            .into();

        let gender = self.gender.sample(rng);
        let female = gender == self.gender_f;
        let male = gender == self.gender_m;
        let age = usize::from(self.age.sample(rng));
        let age_band = self.age_bands[age];
        let young = age <= 1;
        let old = age == 5;

        // Generation: the young are more often born abroad (mostly in the US).
        let p_abroad = [0.40, 0.20, 0.10, 0.06, 0.04, 0.03][age];
        let generation = maybe(rng, 0.01, |rng| {
            if chance(rng, p_abroad) {
                self.born_abroad
            } else {
                self.born_haiti
            }
        });
        let abroad = generation == Some(self.born_abroad);
        let years_in_us = maybe(rng, 0.02, |rng| match (abroad, age) {
            (true, 0) => self.years_abroad_young.sample(rng),
            (true, _) => self.years_abroad.sample(rng),
            (false, _) => self.years_haiti[age].sample(rng),
        });
        let recent = years_in_us == Some(self.lt5);

        let education = maybe(rng, 0.02, |rng| self.education(rng, age, abroad, recent));
        let edu_level = education.and_then(|e| self.education.iter().position(|&x| x == e));
        let occupation = self.occupation(rng, age, female, male, edu_level);

        let sectors = self.sectors(rng, occupation, female);
        let department = maybe(rng, if abroad { 0.25 } else { 0.01 }, |rng| {
            self.department.sample(rng)
        });
        let s = &self.sector;
        let own = |c: u8| sectors.contains(c);
        let support_sectors = if chance(rng, 0.04) {
            CodeSet::default()
        } else {
            self.support.sample(rng, |c, p| {
                if own(c) && (c == s.p || c == s.q || c == s.a || c == s.f) {
                    (p * 1.6).min(0.9)
                } else {
                    p
                }
            })
        };

        // Remittances.
        let mut p_remit = if abroad { 0.42 } else { 0.82 };
        if recent {
            p_remit *= 0.9;
        }
        if old {
            p_remit *= 0.9;
        }
        if occupation.is_none() {
            p_remit *= 0.85;
        }
        let remits = maybe(rng, 0.02, |rng| chance(rng, p_remit));
        let (remit_amount_cents, remit_frequency, remit_channel) = if remits == Some(true) {
            let freq = if abroad {
                self.frequency_abroad.sample(rng)
            } else {
                self.frequency.sample(rng)
            };
            let cents = self.remit_amount(rng, edu_level, freq, abroad);
            (
                Some(cents),
                Some(freq),
                Some(self.remit_channel(rng, age, edu_level)),
            )
        } else {
            (None, None, None)
        };
        let remitter = remits == Some(true);

        let n = &self.need;
        let educated = edu_level.is_some_and(|l| l >= 3);
        let mid_age = (1..=3).contains(&age);
        let needs = self.needs.sample(rng, |c, p| {
            let mut p = p;
            if recent && (c == n.consular_documents || c == n.legal_advice || c == n.employment) {
                p *= 1.6;
            }
            if recent && c == n.language_classes {
                p *= 3.0;
            }
            if c == n.transfer_costs && remitter {
                p *= 1.5;
            }
            if c == n.education_children && mid_age {
                p *= 1.5;
            }
            if (c == n.investment_info || c == n.business_support) && educated {
                p *= 1.5;
            }
            p
        });
        let d = &self.difficulty;
        let difficulties = self.difficulties.sample(rng, |c, p| {
            if c == d.high_transfer_costs {
                if remitter {
                    p * 1.4
                } else {
                    p * 0.4
                }
            } else if c == d.credential_recognition && educated && !abroad {
                p * 2.2
            } else if c == d.language_barrier && recent {
                p * 3.0
            } else if c == d.document_delays && recent {
                p * 1.4
            } else {
                p
            }
        });
        let w = &self.willing;
        let professional = matches!(occupation, Some(o) if o == self.occupation[1] || o == self.occupation[2] || o == self.occupation[3]);
        let willingness = self.willingness.sample(rng, |c, p| {
            if (c == w.skills_transfer_missions || c == w.remote_expertise || c == w.mentoring)
                && professional
            {
                p * 1.8
            } else if c == w.teaching && sectors.contains(s.p) {
                p * 3.0
            } else if c == w.investing && educated {
                p * 1.5
            } else {
                p
            }
        });

        let association_member = maybe(rng, 0.03, |rng| {
            let mut p: f64 = 0.22;
            if age >= 3 {
                p *= 1.3;
            }
            if abroad {
                p *= 0.6;
            }
            chance(rng, p)
        });
        let member = association_member == Some(true);
        let ch = &self.chan;
        let mut channels = self.channels.sample(rng, |c, p| {
            if c == ch.association {
                if member {
                    0.7
                } else {
                    p
                }
            } else if c == ch.radio_tv || c == ch.church {
                if age >= 4 {
                    p * 1.5
                } else if young {
                    p * 0.7
                } else {
                    p
                }
            } else if c == ch.instagram || c == ch.tiktok {
                if young {
                    p * 2.2
                } else if age >= 4 {
                    p * 0.3
                } else {
                    p
                }
            } else if c == ch.email && educated {
                p * 1.8
            } else if c == ch.facebook && old {
                p * 0.8
            } else {
                p
            }
        });
        if channels.is_empty() {
            channels.insert(if old { ch.facebook } else { ch.whatsapp });
        }

        let [ht, fr, en, es] = self.lang;
        let mut languages = CodeSet::default();
        let p_ht = if abroad { 0.70 } else { 0.95 };
        let p_fr = if educated {
            0.55
        } else if abroad {
            0.12
        } else {
            0.28
        };
        let p_en = if abroad {
            0.99
        } else if recent {
            0.35
        } else if young {
            0.85
        } else {
            0.72
        };
        let p_es = if recent { 0.15 } else { 0.04 };
        for (code, p) in [(ht, p_ht), (fr, p_fr), (en, p_en), (es, p_es)] {
            if chance(rng, p) {
                languages.insert(code);
            }
        }
        if languages.is_empty() {
            languages.insert(if abroad { en } else { ht });
        }

        let (survey_round, collected_on) = self.collection(rng);
        let collection_mode = Some(self.collection_mode(rng, age));

        Record {
            external_id,
            survey_round: survey_round.to_string(),
            collected_on,
            collection_mode,
            zip: Some(zip.to_string()),
            lat: at.lat,
            lon: at.lon,
            location_source: LocationSource::Point,
            state_fips: at.state_fips.to_string(),
            county_fips: at.county_fips.map(str::to_string),
            h3_cell,
            gender,
            age_band,
            education,
            years_in_us,
            generation,
            occupation,
            sectors,
            department,
            support_sectors,
            remits,
            remit_amount_cents,
            remit_frequency,
            remit_channel,
            needs,
            difficulties,
            willingness,
            channels,
            languages,
            association_member,
        }
    }

    fn education<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        age: usize,
        abroad: bool,
        recent: bool,
    ) -> u8 {
        // primary, secondary, vocational, bachelor, master, doctorate
        let mut w = if abroad {
            [0.02, 0.38, 0.12, 0.34, 0.12, 0.02]
        } else {
            [0.11, 0.37, 0.17, 0.23, 0.09, 0.03]
        };
        match age {
            0 => {
                w[1] *= 2.5;
                w[4] *= 0.15;
                w[5] = 0.0;
            }
            5 => {
                w[0] *= 2.5;
                w[3] *= 0.6;
            }
            _ => {}
        }
        if recent {
            w[0] *= 1.5;
            w[1] *= 1.2;
        }
        let weights: [(u8, f64); 6] = std::array::from_fn(|k| (self.education[k], w[k]));
        sample_weights(rng, &weights)
    }

    fn occupation<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        age: usize,
        female: bool,
        male: bool,
        edu_level: Option<usize>,
    ) -> Option<u8> {
        // Students among the youngest, retirees among the oldest answer no occupation.
        let none = [0.20, 0.04, 0.03, 0.03, 0.06, 0.45][age];
        if chance(rng, none) {
            return None;
        }
        let base: [f64; 10] = if female {
            self.occupation_f
        } else if male {
            self.occupation_m
        } else {
            std::array::from_fn(|i| (self.occupation_f[i] + self.occupation_m[i]) / 2.0)
        };
        // Multipliers by education level, for ISCO major groups 0..=9.
        let by_education: [f64; 10] = match edu_level {
            Some(0) => [0.2, 0.3, 0.05, 0.3, 0.5, 1.1, 2.0, 1.4, 1.3, 1.8],
            Some(1) => [1.2, 0.8, 0.3, 0.8, 1.0, 1.1, 1.0, 1.0, 1.1, 1.2],
            Some(2) => [1.0, 0.8, 0.5, 1.8, 1.0, 1.0, 1.0, 1.8, 1.2, 0.8],
            Some(3) => [1.0, 1.8, 2.5, 1.4, 1.3, 0.6, 0.3, 0.5, 0.5, 0.35],
            Some(4) => [1.0, 2.5, 4.0, 1.2, 1.0, 0.35, 0.2, 0.3, 0.3, 0.2],
            Some(_) => [0.5, 2.0, 8.0, 0.8, 0.5, 0.2, 0.1, 0.2, 0.2, 0.1],
            None => [1.0; 10],
        };
        let weights: [(u8, f64); 10] =
            std::array::from_fn(|k| (self.occupation[k], base[k] * by_education[k]));
        Some(sample_weights(rng, &weights))
    }

    /// One to three ISIC sections: the main one follows the occupation (and gender), the
    /// others are drawn from the general mix.
    fn sectors<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        occupation: Option<u8>,
        female: bool,
    ) -> CodeSet {
        let mut set = CodeSet::default();
        let main = match occupation.and_then(|o| self.occupation.iter().position(|&x| x == o)) {
            Some(group) if female => self.sector_f[group].sample(rng),
            Some(group) => self.sector_m[group].sample(rng),
            None => self.sector_general.sample(rng),
        };
        set.insert(main);
        let u = unit(rng);
        let extra = if u < 0.15 {
            2
        } else if u < 0.55 {
            1
        } else {
            0
        };
        for _ in 0..extra {
            // A repeat adds nothing; that slightly lowers the mean, which is fine.
            set.insert(self.sector_general.sample(rng));
        }
        set
    }

    /// Annual remittances in cents: log-normal around USD 2,600 a year, higher with
    /// education and monthly sending, capped at USD 30,000.
    fn remit_amount<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        edu_level: Option<usize>,
        freq: u8,
        abroad: bool,
    ) -> i64 {
        const LN_2600: f64 = 7.863_266_724_009_574;
        let mut mu = LN_2600;
        mu += match edu_level {
            Some(0) => -0.25,
            Some(1) => -0.05,
            Some(3) => 0.2,
            Some(4) => 0.35,
            Some(5) => 0.5,
            _ => 0.0,
        };
        mu += if freq == self.freq_monthly {
            0.15
        } else if freq == self.freq_yearly {
            -0.3
        } else if freq == self.freq_occasional {
            -0.35
        } else {
            0.0
        };
        if abroad {
            mu -= 0.3;
        }
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        let usd = (mu + 0.75 * z).exp().clamp(50.0, 30_000.0);
        // Most people report round sums; some give exact totals.
        if chance(rng, 0.7) {
            ((usd / 10.0).round() * 1_000.0) as i64
        } else {
            (usd * 100.0).round() as i64
        }
    }

    fn remit_channel<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        age: usize,
        edu_level: Option<usize>,
    ) -> u8 {
        let mut mobile = 0.13;
        let mut bank = 0.10;
        let mut hand = 0.10;
        if age <= 1 {
            mobile *= 1.6;
        }
        if edu_level.is_some_and(|l| l >= 3) {
            bank *= 1.7;
        }
        if age == 5 {
            hand *= 1.5;
        }
        sample_weights(
            rng,
            &[
                (self.channel_mto, 0.62),
                (self.channel_mobile, mobile),
                (self.channel_bank, bank),
                (self.channel_hand, hand),
                (self.channel_other, 0.05),
            ],
        )
    }

    fn collection<R: Rng + ?Sized>(&self, rng: &mut R) -> (&'static str, Date) {
        let u = unit(rng);
        let mut acc = 0.0;
        let round = self
            .rounds
            .iter()
            .find(|r| {
                acc += r.1;
                u < acc
            })
            .unwrap_or_else(|| self.rounds.last().expect("a round"));
        let day = rng.random_range(round.2..=round.3);
        (round.0, Date::from_julian_day(day).expect("valid day"))
    }

    fn collection_mode<R: Rng + ?Sized>(&self, rng: &mut R, age: usize) -> u8 {
        let [online, phone, in_person, consulate] = self.modes;
        let (o, p, i) = if age >= 4 {
            (0.30, 0.30, 0.28)
        } else {
            (0.58, 0.18, 0.17)
        };
        sample_weights(
            rng,
            &[(online, o), (phone, p), (in_person, i), (consulate, 0.07)],
        )
    }
}

/// A uniform draw in [0, 1) from 32 random bits: plenty for these rates, and half the
/// random stream of a 64-bit draw.
fn unit<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    f64::from(rng.next_u32()) * (1.0 / 4_294_967_296.0)
}

/// `true` with probability `p`.
fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit(rng) < p
}

/// `None` with probability `p_missing` (an unanswered question), else `f(rng)`.
fn maybe<R: Rng + ?Sized, T>(
    rng: &mut R,
    p_missing: f64,
    f: impl FnOnce(&mut R) -> T,
) -> Option<T> {
    if chance(rng, p_missing) {
        None
    } else {
        Some(f(rng))
    }
}

/// Draws a code from unnormalised weights.
fn sample_weights<R: Rng + ?Sized>(rng: &mut R, weights: &[(u8, f64)]) -> u8 {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut u = unit(rng) * total;
    for &(code, w) in weights {
        if u < w {
            return code;
        }
        u -= w;
    }
    weights
        .iter()
        .rev()
        .find(|w| w.1 > 0.0)
        .expect("a positive weight")
        .0
}
