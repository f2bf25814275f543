//! What the core's benches share: the directory search mix and percentiles.

use holdfast_core::model::directory::Capacity;
use holdfast_core::store::DirectoryQuery;

/// The query mix: forty queries in four shapes, each with its shape's name.
pub fn queries() -> Vec<(&'static str, DirectoryQuery)> {
    let texts = [
        "walk",
        "debt advice",
        "befriend",
        "choir",
        "food",
        "men shed",
        "carer",
        "art",
        "bereavement",
        "job",
    ];
    let categories = [
        "loneliness",
        "money",
        "housing",
        "physical activity",
        "mental wellbeing",
        "carer support",
    ];
    let districts = ["LS6", "LS8", "LS11", "WF1", "BD3"];
    let mut queries = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        queries.push((
            "text",
            DirectoryQuery {
                text: Some((*text).into()),
                ..Default::default()
            },
        ));
        queries.push((
            "text + district",
            DirectoryQuery {
                text: Some((*text).into()),
                district: Some(districts[i % districts.len()].into()),
                ..Default::default()
            },
        ));
        queries.push((
            "category + capacity",
            DirectoryQuery {
                category: Some(categories[i % categories.len()].into()),
                capacity: Some(Capacity::Open),
                ..Default::default()
            },
        ));
        queries.push((
            "text + category",
            DirectoryQuery {
                text: Some((*text).into()),
                category: Some(categories[(i + 1) % categories.len()].into()),
                ..Default::default()
            },
        ));
    }
    queries
}

/// The value at fraction `p` of `sorted`.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
