//! Where the seeded people and assets are: places in Leeds, Wakefield and Bradford with their
//! postcode districts and post towns, street names, and the postcodes and addresses made
//! from them.

use rand::Rng;

use super::{SeedRng, pick, weighted};
use crate::model::postcode::Postcode;

#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    pub(super) name: &'static str,
    pub(super) district: &'static str,
    pub(super) town: &'static str,
}

const fn place(name: &'static str, district: &'static str, town: &'static str) -> Place {
    Place {
        name,
        district,
        town,
    }
}

const LEEDS: &[Place] = &[
    place("Leeds City Centre", "LS1", "Leeds"),
    place("Little London", "LS2", "Leeds"),
    place("Woodhouse", "LS2", "Leeds"),
    place("Little Woodhouse", "LS3", "Leeds"),
    place("Burley", "LS4", "Leeds"),
    place("Kirkstall", "LS5", "Leeds"),
    place("Hawksworth", "LS5", "Leeds"),
    place("Headingley", "LS6", "Leeds"),
    place("Hyde Park", "LS6", "Leeds"),
    place("Meanwood", "LS6", "Leeds"),
    place("Chapeltown", "LS7", "Leeds"),
    place("Chapel Allerton", "LS7", "Leeds"),
    place("Potternewton", "LS7", "Leeds"),
    place("Harehills", "LS8", "Leeds"),
    place("Roundhay", "LS8", "Leeds"),
    place("Gipton", "LS9", "Leeds"),
    place("Burmantofts", "LS9", "Leeds"),
    place("Richmond Hill", "LS9", "Leeds"),
    place("Osmondthorpe", "LS9", "Leeds"),
    place("Hunslet", "LS10", "Leeds"),
    place("Belle Isle", "LS10", "Leeds"),
    place("Middleton", "LS10", "Leeds"),
    place("Beeston", "LS11", "Leeds"),
    place("Holbeck", "LS11", "Leeds"),
    place("Armley", "LS12", "Leeds"),
    place("Wortley", "LS12", "Leeds"),
    place("Farnley", "LS12", "Leeds"),
    place("Bramley", "LS13", "Leeds"),
    place("Rodley", "LS13", "Leeds"),
    place("Seacroft", "LS14", "Leeds"),
    place("Whinmoor", "LS14", "Leeds"),
    place("Cross Gates", "LS15", "Leeds"),
    place("Halton Moor", "LS15", "Leeds"),
    place("Adel", "LS16", "Leeds"),
    place("Cookridge", "LS16", "Leeds"),
    place("Holt Park", "LS16", "Leeds"),
    place("Moortown", "LS17", "Leeds"),
    place("Alwoodley", "LS17", "Leeds"),
    place("Horsforth", "LS18", "Leeds"),
    place("Yeadon", "LS19", "Leeds"),
    place("Rawdon", "LS19", "Leeds"),
    place("Guiseley", "LS20", "Leeds"),
    place("Otley", "LS21", "Otley"),
    place("Wetherby", "LS22", "Wetherby"),
    place("Boston Spa", "LS23", "Wetherby"),
    place("Tadcaster", "LS24", "Tadcaster"),
    place("Garforth", "LS25", "Leeds"),
    place("Kippax", "LS25", "Leeds"),
    place("Rothwell", "LS26", "Leeds"),
    place("Oulton", "LS26", "Leeds"),
    place("Morley", "LS27", "Leeds"),
    place("Gildersome", "LS27", "Leeds"),
    place("Pudsey", "LS28", "Pudsey"),
    place("Farsley", "LS28", "Pudsey"),
    place("Ilkley", "LS29", "Ilkley"),
    place("Burley-in-Wharfedale", "LS29", "Ilkley"),
];

const WAKEFIELD: &[Place] = &[
    place("Wakefield", "WF1", "Wakefield"),
    place("Alverthorpe", "WF2", "Wakefield"),
    place("Lofthouse", "WF3", "Wakefield"),
    place("East Ardsley", "WF3", "Wakefield"),
    place("Horbury", "WF4", "Wakefield"),
    place("Ossett", "WF5", "Ossett"),
    place("Normanton", "WF6", "Normanton"),
    place("Featherstone", "WF7", "Pontefract"),
    place("Pontefract", "WF8", "Pontefract"),
    place("Castleford", "WF10", "Castleford"),
    place("Dewsbury", "WF13", "Dewsbury"),
    place("Batley", "WF17", "Batley"),
];

const BRADFORD: &[Place] = &[
    place("Bradford City Centre", "BD1", "Bradford"),
    place("Barkerend", "BD3", "Bradford"),
    place("Bowling", "BD4", "Bradford"),
    place("Little Horton", "BD5", "Bradford"),
    place("Great Horton", "BD7", "Bradford"),
    place("Manningham", "BD8", "Bradford"),
    place("Girlington", "BD8", "Bradford"),
    place("Heaton", "BD9", "Bradford"),
    place("Idle", "BD10", "Bradford"),
    place("Eccleshill", "BD10", "Bradford"),
    place("Drighlington", "BD11", "Bradford"),
    place("Thornton", "BD13", "Bradford"),
    place("Queensbury", "BD13", "Bradford"),
    place("Bingley", "BD16", "Bingley"),
    place("Baildon", "BD17", "Shipley"),
    place("Shipley", "BD18", "Shipley"),
    place("Keighley", "BD21", "Keighley"),
];

pub(super) fn pick_place(rng: &mut SeedRng, leeds_percent: u32) -> Place {
    let rest = (100 - leeds_percent) / 2;
    let area = weighted(
        rng,
        &[(LEEDS, leeds_percent), (WAKEFIELD, rest), (BRADFORD, rest)],
    );
    *pick(rng, area)
}

// Royal Mail never uses C, I, K, M, O or V in the last two letters of a postcode.
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

pub(super) fn postcode(rng: &mut SeedRng, district: &str) -> Postcode {
    let a = char::from(*pick(rng, INWARD_LETTERS));
    let b = char::from(*pick(rng, INWARD_LETTERS));
    let text = format!("{district} {}{a}{b}", rng.random_range(1..=9));
    Postcode::parse(&text).expect("generated postcodes have a valid outward and inward shape")
}

const STREETS: &[&str] = &[
    "Granby",
    "Cardigan",
    "Victoria",
    "Albert",
    "Station",
    "Church",
    "Moor",
    "Mill",
    "Hall",
    "Park",
    "Beech",
    "Ash",
    "Oak",
    "Sycamore",
    "Hawthorn",
    "Town",
    "Green",
    "Hill",
    "Chapel",
    "Westfield",
    "Eastfield",
    "Northfield",
    "Springfield",
    "Highfield",
    "Brookfield",
    "Manor",
    "Grange",
    "Cliff",
    "Bank",
    "Ridge",
    "Beck",
    "Harold",
    "Stanmore",
    "Bayswater",
    "Gledhow",
    "Woodland",
    "Aire",
    "Wharfe",
    "Canal",
    "Kirk",
];

const STREET_KINDS: &[&str] = &[
    "Road", "Street", "Avenue", "Grove", "Terrace", "Crescent", "Mount", "View", "Place", "Close",
    "Lane", "Drive", "Walk", "Gardens", "Court", "Rise", "Way",
];

pub(super) fn street(rng: &mut SeedRng) -> String {
    let back = if rng.random_bool(0.08) { "Back " } else { "" };
    format!("{back}{} {}", pick(rng, STREETS), pick(rng, STREET_KINDS))
}

pub(super) fn locality(place: &Place) -> String {
    if place.name == place.town {
        place.town.to_owned()
    } else {
        format!("{}, {}", place.name, place.town)
    }
}

pub(super) fn home_address(rng: &mut SeedRng, place: &Place) -> String {
    let number = rng.random_range(1..=180);
    let street = street(rng);
    let flat = if rng.random_bool(0.15) {
        format!("Flat {}, ", rng.random_range(1..=24))
    } else {
        String::new()
    };
    format!("{flat}{number} {street}, {}", locality(place))
}

/// The post town of a district in the generator's place lists.
pub(super) fn town_of(district: &str) -> Option<&'static str> {
    LEEDS
        .iter()
        .chain(WAKEFIELD)
        .chain(BRADFORD)
        .find(|p| p.district == district)
        .map(|p| p.town)
}

/// The postcode area ("LS" of "LS12").
pub(super) fn area_of(district: &str) -> &str {
    district.trim_end_matches(|c: char| c.is_ascii_digit())
}
