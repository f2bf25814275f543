//! The team the caseload belongs to: its GP practices (from tables of practice names) and the
//! link worker's first name and phone.

use super::{SeedRng, drama_mobile, pick, pick_distinct, weighted};

#[derive(Debug)]
pub(super) struct Team {
    pub(super) practices: Vec<String>,
    pub(super) worker_first_name: String,
    pub(super) worker_phone: String,
}

const PRACTICE_PLACES: &[&str] = &[
    "Chapel Allerton",
    "Meanwood",
    "Armley",
    "Harehills",
    "Beeston",
    "Bramley",
    "Kirkstall",
    "Seacroft",
    "Headingley",
    "Hunslet",
    "Moortown",
    "Roundhay",
    "Pudsey",
    "Horsforth",
    "Middleton",
    "Burmantofts",
];
const PRACTICE_MIDDLES: &[&str] = &["", " Park", " Lane", " Road", " Moor", " Hill", " Village"];
const PRACTICE_KINDS: &[&str] = &[
    "Medical Centre",
    "Surgery",
    "Health Centre",
    "Family Practice",
    "Medical Practice",
    "Group Practice",
];

impl Team {
    pub(super) fn new(rng: &mut SeedRng, person: &str) -> Team {
        let count = weighted(rng, &[(1usize, 1), (2, 2), (3, 3), (4, 3), (5, 2)]);
        let practices = pick_distinct(rng, PRACTICE_PLACES, count)
            .into_iter()
            .map(|p| {
                let middle = pick(rng, PRACTICE_MIDDLES);
                let kind = pick(rng, PRACTICE_KINDS);
                format!("{p}{middle} {kind}")
            })
            .collect();
        let worker_first_name = person
            .split_whitespace()
            .next()
            .unwrap_or("your link worker")
            .to_owned();
        Team {
            practices,
            worker_first_name,
            worker_phone: drama_mobile(rng),
        }
    }
}
