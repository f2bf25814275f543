//! Referrals: who refers (and how often), the areas of need referred for, and the reasons
//! referrers give for each.

use super::names::any_surname;
use super::{SeedRng, pick, weighted};
use crate::model::case_file::{Need, ReferralSource};

pub(super) const SOURCES: &[(ReferralSource, u32)] = &[
    (ReferralSource::Gp, 45),
    (ReferralSource::Nurse, 12),
    (ReferralSource::OtherClinician, 13),
    (ReferralSource::SelfReferral, 15),
    (ReferralSource::Vcse, 10),
    (ReferralSource::Other, 5),
];

pub(super) fn referrer(rng: &mut SeedRng, source: ReferralSource) -> Option<String> {
    let role: &[&str] = match source {
        ReferralSource::Gp => return Some(format!("Dr {}", any_surname(rng))),
        ReferralSource::SelfReferral => return None,
        ReferralSource::Nurse => &[
            "Practice nurse",
            "District nursing team",
            "Community matron",
            "Diabetes specialist nurse",
        ],
        ReferralSource::OtherClinician => &[
            "Practice pharmacist",
            "First contact physiotherapist",
            "Mental health practitioner",
            "Health and wellbeing coach",
            "Care coordinator",
        ],
        ReferralSource::Vcse => &[
            "Neighbourhood network scheme",
            "Food bank volunteer coordinator",
            "Befriending service",
            "Tenants' association",
        ],
        ReferralSource::Other => &[
            "Social worker",
            "Jobcentre work coach",
            "Housing officer",
            "Family member",
        ],
    };
    Some((*pick(rng, role)).to_owned())
}

const NEED_WEIGHTS: &[(Need, u32)] = &[
    (Need::Loneliness, 30),
    (Need::MentalWellbeing, 18),
    (Need::Money, 15),
    (Need::PhysicalActivity, 10),
    (Need::Housing, 8),
    (Need::CarerSupport, 7),
    (Need::Employment, 7),
    (Need::Other, 5),
];

pub(super) fn pick_needs(rng: &mut SeedRng) -> Vec<Need> {
    let extra = weighted(rng, &[(0usize, 45), (1, 35), (2, 20)]);
    let mut needs = vec![weighted(rng, NEED_WEIGHTS)];
    while needs.len() < 1 + extra {
        let n = weighted(rng, NEED_WEIGHTS);
        if !needs.contains(&n) {
            needs.push(n);
        }
    }
    needs
}

fn referral_reasons(need: Need) -> &'static [&'static str] {
    match need {
        Need::Loneliness => &[
            "Lives alone and has lost touch with friends since retiring",
            "Socially isolated since moving to the area",
            "Lonely since their partner died last year; frequent attender",
            "Housebound after a fall and not seeing anyone most days",
            "Says there is no one to talk to most days; family live away",
        ],
        Need::Money => &[
            "Struggling with debts and worried by bailiff letters",
            "Benefits stopped after a missed assessment",
            "Cannot afford to heat the house",
            "Rent arrears building up",
            "Needs help with a PIP application",
        ],
        Need::Housing => &[
            "Damp and mould in a rented flat affecting breathing",
            "Stairs at home becoming unmanageable",
            "Worried about eviction after a notice from the landlord",
            "Overcrowded housing",
            "Sofa surfing since a relationship ended",
        ],
        Need::Employment => &[
            "Wants to get back to work after long-term sickness",
            "Recently made redundant and low in mood",
            "Would like to volunteer to build confidence",
            "Needs help with job applications and computer skills",
        ],
        Need::MentalWellbeing => &[
            "Low mood and anxiety; on the Talking Therapies waiting list",
            "Stress and poor sleep; does not want medication",
            "Low confidence and anxious in social situations",
            "Bereaved and struggling to cope",
        ],
        Need::PhysicalActivity => &[
            "Type 2 diabetes; would benefit from being more active",
            "Wants to lose weight before knee surgery",
            "Deconditioned after a long hospital stay",
            "COPD; advised to keep active",
        ],
        Need::CarerSupport => &[
            "Caring full-time for a partner with dementia and exhausted",
            "Young adult carer for a parent with MS",
            "Carer for an adult son with learning disabilities; no breaks",
            "Struggling to care for their mother at home",
        ],
        Need::Other => &[
            "Frequent GP attender with mostly social needs",
            "Needs help getting food and essentials",
            "Wants to get online to keep in touch with family abroad",
        ],
    }
}

pub(super) fn referral_reason(rng: &mut SeedRng, needs: &[Need]) -> String {
    let parts: Vec<&str> = needs
        .iter()
        .map(|n| *pick(rng, referral_reasons(*n)))
        .collect();
    format!("{}.", parts.join(". "))
}
