//! The seeded community directory: kinds of asset (names, organisations, categories,
//! descriptions, costs, eligibility), venues, access notes, languages and schedules, how one
//! asset is made from them, and the index plan steps use to find an asset near a patient.

use rand::Rng;
use rand::seq::IndexedRandom;

use super::patients::Person;
use super::places::{area_of, locality, pick_place, postcode, street, town_of};
use super::{
    REFERENCE_DATE, SeedRng, days, drama_landline, drama_mobile, phrase, pick, pick_distinct,
    weighted,
};
use crate::model::directory::{AssetInput, AssetStatus, Capacity, ReferralRoute};
use crate::model::doc::format_date;
use crate::model::ids::{AssetId, DocumentId};

#[derive(Debug, Clone, Copy)]
enum ScheduleStyle {
    Weekly,
    Office,
    Monthly,
    Visits,
}

pub(super) struct AssetKind {
    pub(super) weight: u32,
    names: &'static [&'static str],
    orgs: &'static [&'static str],
    /// The first is always used; each of the others joins with even odds (three at most).
    categories: &'static [&'static str],
    descriptions: &'static [&'static str],
    schedule: ScheduleStyle,
    costs: &'static [&'static str],
    eligibility: &'static [&'static str],
    /// Age limits some of these assets have, and how often.
    ages: &'static [(Option<u8>, Option<u8>)],
    age_chance: f64,
    direct_referral: f64,
}

pub(super) const ASSET_KINDS: &[AssetKind] = &[
    AssetKind {
        weight: 10,
        names: &[
            "{place} Walking Group",
            "{place} Health Walk",
            "{place} Stroll and Natter",
            "{day} Walk from {place} Library",
        ],
        orgs: &[
            "{place} Neighbourhood Network",
            "{town} Health Walks",
            "Friends of {place} Park",
        ],
        categories: &["physical activity", "loneliness", "mental wellbeing"],
        descriptions: &[
            "A friendly, gentle walk of about an hour on flat paths, led by trained volunteers. Go at your own pace; nobody gets left behind, and there is a cuppa afterwards.",
            "Short led walks for people who have not walked much lately. Routes avoid hills and there are benches on the way.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &[
            "Adults of any fitness; walking aids welcome",
            "Anyone who can walk for 20 minutes with rests",
        ],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.1,
    },
    AssetKind {
        weight: 7,
        names: &[
            "{place} Befriending Service",
            "{town} Telephone Befriending",
            "{place} Good Neighbours",
        ],
        orgs: &[
            "{place} Neighbourhood Network",
            "{town} Befriending Partnership",
            "{place} Good Neighbours Scheme",
        ],
        categories: &["loneliness", "mental wellbeing"],
        descriptions: &[
            "Trained volunteers visit or phone once a week for a chat, a cup of tea or a trip out, matched on shared interests where possible.",
            "A regular friendly phone call from the same volunteer each week, for people who live alone or cannot get out.",
        ],
        schedule: ScheduleStyle::Visits,
        costs: &["Free"],
        eligibility: &[
            "Adults who are isolated or lonely",
            "Older people living alone",
        ],
        ages: &[(Some(50), None), (Some(60), None)],
        age_chance: 0.4,
        direct_referral: 0.85,
    },
    AssetKind {
        weight: 7,
        names: &[
            "{town} Money Advice",
            "{place} Advice Centre",
            "{place} Debt and Benefits Drop-in",
        ],
        orgs: &[
            "{town} Advice Partnership",
            "{place} Advice Centre",
            "{town} Community Law and Advice",
        ],
        categories: &["money", "housing", "employment"],
        descriptions: &[
            "Free, confidential advice on debt, benefits, energy bills and budgeting. Advisers check entitlement, deal with creditors and help with PIP and Universal Credit forms.",
            "Benefit checks and debt advice from trained advisers. Bring any letters and recent bank statements.",
        ],
        schedule: ScheduleStyle::Office,
        costs: &["Free"],
        eligibility: &["Anyone living in the {town} area", "Adults 18+"],
        ages: &[(Some(18), None)],
        age_chance: 0.2,
        direct_referral: 0.7,
    },
    AssetKind {
        weight: 7,
        names: &[
            "{place} Food Bank",
            "{place} Community Pantry",
            "{place} Community Fridge",
            "{place} Food Club",
        ],
        orgs: &[
            "{place} Food Bank Trust",
            "{place} Community Association",
            "St {saint}'s Church, {place}",
        ],
        categories: &["food", "money"],
        descriptions: &[
            "Emergency food parcels for three days, with a warm welcome and signposting to advice. A voucher from a referral agency is needed; link workers can issue them.",
            "A membership pantry: pay a small weekly amount and choose groceries worth much more. Fresh fruit and veg most weeks.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &[
            "Free",
            "£3.50 a week membership",
            "£5 for a bag worth about £20",
        ],
        eligibility: &[
            "Food bank voucher needed",
            "People living in {district} on a low income",
        ],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.5,
    },
    AssetKind {
        weight: 4,
        names: &["{place} Men's Shed"],
        orgs: &["{place} Men's Shed", "{place} Community Association"],
        categories: &["loneliness", "mental wellbeing", "arts"],
        descriptions: &[
            "A workshop where people come together to make, mend and chat: woodwork, bike repairs and community projects. Tools and tea provided.",
            "Shoulder-to-shoulder making and mending in a friendly shed. No experience needed; members pass on their skills.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["£2 a session", "Free; donations welcome"],
        eligibility: &["Adults 18+; mostly men, but everyone is welcome"],
        ages: &[(Some(18), None)],
        age_chance: 0.6,
        direct_referral: 0.1,
    },
    AssetKind {
        weight: 4,
        names: &[
            "{place} Community Choir",
            "{place} Sing and Smile",
            "{place} Big Sing",
        ],
        orgs: &["{place} Community Choir", "{town} Arts for Health"],
        categories: &["arts", "loneliness", "mental wellbeing"],
        descriptions: &[
            "A friendly choir with no auditions, singing pop, folk and gospel. You don't need to read music.",
            "Singing for wellbeing: breathing exercises, easy songs and lots of laughter, with seats for anyone who needs them.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["£3 a session", "Free", "£2 including tea and biscuits"],
        eligibility: &["Adults of any singing ability"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.05,
    },
    AssetKind {
        weight: 5,
        names: &[
            "{place} Art Club",
            "{place} Paint and Natter",
            "{place} Craft and Chat",
            "{place} Pottery for Wellbeing",
        ],
        orgs: &[
            "{town} Arts for Health",
            "{place} Library",
            "{place} Community Arts",
        ],
        categories: &["arts", "mental wellbeing", "loneliness"],
        descriptions: &[
            "Relaxed art sessions with all materials provided. Try drawing, painting and collage with a friendly tutor.",
            "Crafts and conversation: knitting, card-making and seasonal projects. Bring your own or use ours.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free", "£2 a session", "£15 for a six-week course"],
        eligibility: &["Adults; no experience needed"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.15,
    },
    AssetKind {
        weight: 5,
        names: &[
            "{town} Carers Hub",
            "{place} Carers' Café",
            "{place} Carers Support Group",
        ],
        orgs: &["{town} Carers Centre", "{place} Neighbourhood Network"],
        categories: &["carer support", "mental wellbeing", "loneliness"],
        descriptions: &[
            "Information, advice and a listening ear for unpaid carers, including help with carers assessments and breaks.",
            "A café for carers to meet others in a similar situation. Sitting support can be arranged for the person you care for.",
        ],
        schedule: ScheduleStyle::Monthly,
        costs: &["Free"],
        eligibility: &[
            "Unpaid carers of any age",
            "Adults caring for a family member or friend",
        ],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.7,
    },
    AssetKind {
        weight: 5,
        names: &[
            "{place} Jobs and Skills Hub",
            "{town} Back to Work Support",
            "{place} Volunteer Centre",
        ],
        orgs: &[
            "{town} Employment Partnership",
            "{place} Community Hub",
            "{town} Voluntary Action",
        ],
        categories: &["employment", "digital", "money"],
        descriptions: &[
            "One-to-one support to find work, training or volunteering: CVs, applications, interview practice and confidence building.",
            "Volunteering opportunities matched to your interests, with support for the first few sessions.",
        ],
        schedule: ScheduleStyle::Office,
        costs: &["Free"],
        eligibility: &["Adults not in work", "People of working age"],
        ages: &[(Some(18), Some(66)), (Some(16), Some(24))],
        age_chance: 0.5,
        direct_referral: 0.6,
    },
    AssetKind {
        weight: 4,
        names: &[
            "{town} Housing Advice",
            "{place} Tenants' Support",
            "{town} Home Repairs and Adaptations",
        ],
        orgs: &[
            "{town} Housing Advice Service",
            "{place} Tenants and Residents Association",
            "{town} Care and Repair",
        ],
        categories: &["housing", "money"],
        descriptions: &[
            "Advice on renting, repairs, arrears and preventing homelessness. Caseworkers can speak to landlords on your behalf.",
            "Small repairs and adaptations (grab rails, key safes, stair rails) so older and disabled people can stay safe at home.",
        ],
        schedule: ScheduleStyle::Office,
        costs: &[
            "Free",
            "Free advice; small repairs at the cost of materials",
        ],
        eligibility: &[
            "Tenants and homeowners in {town}",
            "Older or disabled homeowners and tenants",
        ],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.6,
    },
    AssetKind {
        weight: 4,
        names: &[
            "{place} Get Online Drop-in",
            "{place} Library Digital Help",
            "{place} Tech Buddies",
        ],
        orgs: &[
            "{place} Library",
            "{town} Digital Inclusion Network",
            "{place} Community Hub",
        ],
        categories: &["digital", "loneliness", "employment"],
        descriptions: &[
            "Friendly help with phones, tablets and computers: video calls, email, online forms and staying safe online. Devices to borrow.",
            "One-to-one sessions with a patient volunteer to get online at your own pace.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &["Anyone who wants help getting online"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.3,
    },
    AssetKind {
        weight: 3,
        names: &[
            "{place} Bereavement Café",
            "{town} Bereavement Support Group",
            "{place} Life After Loss",
        ],
        orgs: &[
            "{town} Bereavement Service",
            "St {saint}'s Church, {place}",
            "{town} Hospice Community Team",
        ],
        categories: &["bereavement", "mental wellbeing", "loneliness"],
        descriptions: &[
            "A relaxed café where people who have lost someone can talk, or just sit with a cuppa among others who understand.",
            "A six-week group with trained volunteers for people grieving the death of someone close.",
        ],
        schedule: ScheduleStyle::Monthly,
        costs: &["Free"],
        eligibility: &["Adults bereaved at any time"],
        ages: &[(Some(18), None)],
        age_chance: 0.3,
        direct_referral: 0.5,
    },
    AssetKind {
        weight: 4,
        names: &[
            "{place} Community Garden",
            "{place} Growing Together",
            "{place} Allotment Project",
        ],
        orgs: &[
            "Friends of {place} Park",
            "{place} Community Garden",
            "{town} Green Spaces Trust",
        ],
        categories: &["physical activity", "mental wellbeing", "loneliness"],
        descriptions: &[
            "Grow fruit, veg and flowers together on a shared plot. Gentle or active jobs; tools and gloves provided.",
            "Outdoor volunteering: planting, clearing paths and wildlife gardening, finishing with tea round the fire pit.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &["Adults; raised beds for people who cannot kneel"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.15,
    },
    AssetKind {
        weight: 5,
        names: &[
            "{place} Chair-Based Exercise",
            "{place} Strength and Balance",
            "{place} Tai Chi",
            "{place} Gentle Yoga",
        ],
        orgs: &[
            "{town} Active Communities",
            "{place} Leisure Centre",
            "{place} Community Association",
        ],
        categories: &["physical activity", "mental wellbeing"],
        descriptions: &[
            "Seated and standing exercises to build strength and balance and reduce the risk of falls, led by a qualified instructor.",
            "Slow, gentle movement and breathing, suitable for people with long-term conditions.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &[
            "£2 a session",
            "£3 a session",
            "Free for the first four weeks, then £2.50",
        ],
        eligibility: &[
            "Adults 50+ or with a long-term condition",
            "Adults of any fitness",
        ],
        ages: &[(Some(50), None), (Some(60), None)],
        age_chance: 0.4,
        direct_referral: 0.3,
    },
    AssetKind {
        weight: 4,
        names: &[
            "{place} Peer Support Group",
            "{place} Mindfulness Drop-in",
            "{town} Wellbeing Courses",
        ],
        orgs: &[
            "{town} Mind and Wellbeing",
            "{town} Wellbeing Learning Centre",
            "{place} Community Hub",
        ],
        categories: &["mental wellbeing", "loneliness"],
        descriptions: &[
            "A peer-led group for people living with anxiety or low mood. Share as much or as little as you like.",
            "Free short courses on sleep, stress, managing worry and building confidence, in small friendly groups.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &["Adults 18+ living with low mood or anxiety", "Adults 18+"],
        ages: &[(Some(18), None)],
        age_chance: 0.5,
        direct_referral: 0.4,
    },
    AssetKind {
        weight: 7,
        names: &[
            "{place} Lunch Club",
            "{place} Coffee Morning",
            "{place} Friendship Group",
            "{place} Over 50s Social",
        ],
        orgs: &[
            "{place} Neighbourhood Network",
            "{place} Methodist Church",
            "{place} Community Association",
        ],
        categories: &["loneliness", "food"],
        descriptions: &[
            "A hot two-course lunch and good company, with a quiz or bingo afterwards. Transport can be arranged.",
            "A relaxed coffee morning with cake, board games and a chance to meet neighbours.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["£4.50 for lunch", "£1 for tea and cake", "Free"],
        eligibility: &[
            "Older people in {district}",
            "Anyone who would like some company",
        ],
        ages: &[(Some(50), None), (Some(60), None)],
        age_chance: 0.35,
        direct_referral: 0.35,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Aqua Fit", "{place} Quiet Swim"],
        orgs: &["{place} Leisure Centre"],
        categories: &["physical activity"],
        descriptions: &[
            "Gentle exercise in the water, good for sore joints. Hoist and changing support available.",
            "A quieter adult swim with lanes for slower swimmers.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &[
            "£3.20 a session (concessions available)",
            "£2.50 with a leisure card",
        ],
        eligibility: &["Adults 16+"],
        ages: &[(Some(16), None)],
        age_chance: 0.7,
        direct_referral: 0.05,
    },
    AssetKind {
        weight: 3,
        names: &["{place} Cook and Eat", "{place} Cooking on a Budget"],
        orgs: &["{place} Community Kitchen", "{town} Healthy Living Network"],
        categories: &["food", "money", "loneliness"],
        descriptions: &[
            "Learn to cook tasty, cheap meals from scratch, then sit down and eat together. Recipes to take home.",
            "A six-week course on healthy cooking on a budget, with a slow cooker to keep for those who finish.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free", "£1 a session"],
        eligibility: &["Adults on a low income", "Adults 18+"],
        ages: &[(Some(18), None)],
        age_chance: 0.3,
        direct_referral: 0.4,
    },
    AssetKind {
        weight: 3,
        names: &[
            "{place} Women's Wellbeing Group",
            "{place} Women's Coffee and Chat",
        ],
        orgs: &["{place} Women's Centre", "{place} Community Hub"],
        categories: &["loneliness", "mental wellbeing"],
        descriptions: &[
            "A women-only space to meet, chat and take part in activities from sewing to exercise. Crèche some weeks.",
            "A friendly group for women new to the area, with conversation practice and trips out.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &["Women only"],
        ages: &[(Some(18), None)],
        age_chance: 0.3,
        direct_referral: 0.3,
    },
    AssetKind {
        weight: 2,
        names: &["{place} English Conversation Café"],
        orgs: &["{place} Library", "{town} Refugee and Migrant Forum"],
        categories: &["loneliness", "employment"],
        descriptions: &[
            "Practise everyday English in a relaxed café with volunteers. All levels welcome.",
            "Conversation practice, help with forms and a chance to make friends in a new city.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free"],
        eligibility: &["Adults learning English"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.2,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Library Book Group", "{place} Shared Reading Group"],
        orgs: &["{place} Library"],
        categories: &["arts", "loneliness"],
        descriptions: &[
            "Stories and poems read aloud together, then a chat about them. No need to read anything in advance.",
            "A book group choosing a mix of novels; copies are provided by the library.",
        ],
        schedule: ScheduleStyle::Monthly,
        costs: &["Free"],
        eligibility: &["Adults"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.05,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Memory Café"],
        orgs: &[
            "{town} Dementia Action Alliance",
            "{place} Neighbourhood Network",
        ],
        categories: &["carer support", "loneliness"],
        descriptions: &[
            "A welcoming café for people living with memory problems and the people who care for them, with music and activities.",
            "Reminiscence, singing and a cup of tea for people with dementia and their carers, with advice on hand.",
        ],
        schedule: ScheduleStyle::Monthly,
        costs: &["Free", "£1 for refreshments"],
        eligibility: &["People with memory problems and their carers"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.3,
    },
    AssetKind {
        weight: 2,
        names: &["{town} Warm Homes Advice", "{place} Energy Advice Drop-in"],
        orgs: &["{town} Affordable Warmth Partnership"],
        categories: &["money", "housing"],
        descriptions: &[
            "Advice on cutting energy bills, dealing with energy debt and getting help with insulation and heating repairs.",
            "Help to switch tariffs, apply for grants and set up priority services with your supplier.",
        ],
        schedule: ScheduleStyle::Office,
        costs: &["Free"],
        eligibility: &["Households struggling to heat their home"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.6,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Walking Football"],
        orgs: &["{town} Active Communities", "{place} Sports Club"],
        categories: &["physical activity", "loneliness"],
        descriptions: &[
            "Football at walking pace: no running, no tackles, plenty of laughs. All abilities welcome.",
            "A friendly kickabout at walking pace, with a brew in the clubhouse afterwards.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["£3 a session", "£2 a session"],
        eligibility: &["Adults 50+"],
        ages: &[(Some(50), None)],
        age_chance: 0.9,
        direct_referral: 0.05,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Ukulele Group", "{place} Drumming for Wellbeing"],
        orgs: &["{town} Arts for Health", "{place} Community Music"],
        categories: &["arts", "mental wellbeing", "loneliness"],
        descriptions: &[
            "Learn a few chords and play along with others. Instruments to borrow; complete beginners welcome.",
            "Group drumming to lift the mood and meet people. No experience needed.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["£2 a session", "Free"],
        eligibility: &["Adults"],
        ages: &[],
        age_chance: 0.0,
        direct_referral: 0.05,
    },
    AssetKind {
        weight: 2,
        names: &["{place} Bike Library", "{place} Cycling for Confidence"],
        orgs: &["{town} Cycling Hub", "{place} Community Association"],
        categories: &["physical activity"],
        descriptions: &[
            "Borrow a bike, helmet and lock for free, with a short lesson on quiet routes nearby.",
            "Small-group rides for people who have not cycled for years, on traffic-free paths.",
        ],
        schedule: ScheduleStyle::Weekly,
        costs: &["Free", "£10 refundable deposit"],
        eligibility: &["Adults and families"],
        ages: &[(Some(16), None)],
        age_chance: 0.3,
        direct_referral: 0.1,
    },
];

const SAINTS: &[&str] = &[
    "Mary", "John", "Peter", "Andrew", "Luke", "Matthew", "Michael", "Margaret", "Paul", "Aidan",
    "Chad", "Wilfrid",
];

const VENUES: &[&str] = &[
    "{place} Community Centre",
    "{place} Library",
    "St {saint}'s Church Hall",
    "{place} Methodist Church",
    "The {place} Hub",
    "{place} Leisure Centre",
    "{place} Park Pavilion",
    "{place} Village Hall",
    "{place} Health Centre (community room)",
    "{place} Enterprise Centre",
];

const ASSET_ACCESSIBILITY: &[&str] = &[
    "Step-free access and an accessible toilet",
    "Hearing loop in the main hall",
    "Upstairs room with no lift",
    "Parking on site and close to bus stops",
    "Large print materials available",
    "Quiet room available",
    "Assistance dogs welcome",
    "Step-free access; BSL interpreter on request",
];

const COMMUNITY_LANGUAGES: &[&str] = &[
    "Urdu",
    "Punjabi",
    "Polish",
    "Arabic",
    "Bengali",
    "Kurdish (Sorani)",
    "Romanian",
    "Slovak",
    "Tigrinya",
    "Farsi",
    "Mandarin",
    "BSL",
];

const DIRECTORY_CHECKERS: &[&str] = &[
    "Directory team",
    "Helen Whitaker",
    "Jamal Hussain",
    "Kate Ormerod",
    "Tomasz Nowak",
    "Grace Mensah",
];

const DAYS: &[(&str, u32)] = &[
    ("Monday", 18),
    ("Tuesday", 20),
    ("Wednesday", 20),
    ("Thursday", 20),
    ("Friday", 14),
    ("Saturday", 6),
    ("Sunday", 2),
];

fn schedule(rng: &mut SeedRng, style: ScheduleStyle, day: &str) -> String {
    let slot = |rng: &mut SeedRng| {
        let start = *pick(
            rng,
            &[570u32, 600, 630, 660, 780, 810, 840, 1080, 1110, 1140],
        );
        let end = start + 30 * rng.random_range(2..=5);
        format!("{}-{}", clock(start), clock(end))
    };
    match style {
        ScheduleStyle::Weekly => {
            let times = slot(rng);
            if rng.random_bool(0.2) {
                format!("Every other {day} {times}")
            } else {
                format!("{day}s {times}")
            }
        }
        ScheduleStyle::Monthly => {
            let which = pick(rng, &["First", "Second", "Third", "Last"]);
            let times = slot(rng);
            format!("{which} {day} of the month {times}")
        }
        ScheduleStyle::Office => pick(
            rng,
            &[
                "Monday to Friday 9:00-17:00",
                "Monday to Thursday 9:30-16:30; Friday 9:30-12:30",
                "Drop-in {day}s 10:00-13:00; appointments on other weekdays",
                "Weekdays 10:00-15:00 by appointment",
                "Phone line Monday to Friday 9:00-16:00",
            ],
        )
        .replace("{day}", day),
        ScheduleStyle::Visits => (*pick(
            rng,
            &[
                "Weekly home visits or phone calls at a time that suits you",
                "Weekday daytimes, arranged with your volunteer",
                "A phone call at the same time each week",
            ],
        ))
        .to_owned(),
    }
}

pub(super) fn asset(rng: &mut SeedRng, kind: &AssetKind, index: usize) -> AssetInput {
    let place = pick_place(rng, 70);
    let day = weighted(rng, DAYS);
    let saint = *pick(rng, SAINTS);
    let fill = |t: &str| {
        t.replace("{place}", place.name)
            .replace("{town}", place.town)
            .replace("{district}", place.district)
            .replace("{day}", day)
            .replace("{saint}", saint)
    };
    let name = fill(phrase(rng, kind.names));
    let organisation = fill(phrase(rng, kind.orgs));

    let mut categories = vec![kind.categories[0].to_owned()];
    for c in &kind.categories[1..] {
        if categories.len() < 3 && rng.random_bool(0.5) {
            categories.push((*c).to_owned());
        }
    }
    let mut description = (*pick(rng, kind.descriptions)).to_owned();
    if rng.random_bool(0.4) {
        description.push(' ');
        description.push_str(phrase(
            rng,
            &[
                "New people are always welcome.",
                "Come along for a taster session first.",
                "Tea and biscuits provided.",
                "Ring ahead if it is your first visit.",
                "Run by local volunteers.",
            ],
        ));
    }

    let org_slug = slug(&organisation);
    let phone = match weighted(rng, &[(0u8, 70), (1, 20), (2, 10)]) {
        0 => Some(drama_landline(rng, place.district)),
        1 => Some(drama_mobile(rng)),
        _ => None,
    };
    let email = rng.random_bool(0.75).then(|| {
        let local = pick(rng, &["hello", "info", "enquiries", "admin", "contact"]);
        format!("{local}@{org_slug}.example.org")
    });
    let url = rng
        .random_bool(0.7)
        .then(|| format!("https://{org_slug}.example.org/{}", slug(&name)));
    let venue = fill(phrase(rng, VENUES));
    let address = format!(
        "{venue}, {} {}, {}",
        rng.random_range(1..=250),
        street(rng),
        locality(&place)
    );
    let postcode = postcode(rng, place.district);
    let schedule = schedule(rng, kind.schedule, day);
    let eligibility = fill(phrase(rng, kind.eligibility));
    let (min_age, max_age) = if !kind.ages.is_empty() && rng.random_bool(kind.age_chance) {
        *pick(rng, kind.ages)
    } else {
        (None, None)
    };
    let cost = (*pick(rng, kind.costs)).to_owned();
    let referral_route = if rng.random_bool(kind.direct_referral) {
        ReferralRoute::DirectReferral
    } else {
        ReferralRoute::SignpostOnly
    };
    let accessibility = rng
        .random_bool(0.85)
        .then(|| (*pick(rng, ASSET_ACCESSIBILITY)).to_owned());
    let mut languages = vec!["English".to_owned()];
    if rng.random_bool(0.2) {
        let extra = rng.random_range(1..=2);
        for l in pick_distinct(rng, COMMUNITY_LANGUAGES, extra) {
            languages.push((*l).to_owned());
        }
    }
    let capacity = weighted(
        rng,
        &[
            (Capacity::Open, 80),
            (Capacity::WaitingList, 15),
            (Capacity::Closed, 5),
        ],
    );
    let status = weighted(
        rng,
        &[
            (AssetStatus::Active, 88),
            (AssetStatus::TemporarilyClosed, 5),
            (AssetStatus::Inactive, 5),
            (AssetStatus::Defunct, 2),
        ],
    );
    let checked_days_ago = match status {
        AssetStatus::Active => rng.random_range(0..=400),
        _ => rng.random_range(120..=720),
    };
    AssetInput {
        name,
        organisation: Some(organisation),
        description,
        categories,
        phone,
        email,
        url,
        address: Some(address),
        postcode: Some(postcode),
        schedule: Some(schedule),
        eligibility: Some(eligibility),
        min_age,
        max_age,
        cost: Some(cost),
        referral_route,
        accessibility,
        languages,
        capacity,
        status,
        assured_date: Some(format_date(REFERENCE_DATE - days(checked_days_ago))),
        assured_by: Some((*pick(rng, DIRECTORY_CHECKERS)).to_owned()),
        external_id: Some(format!("seed-{index}")),
    }
}

fn clock(minutes: u32) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c != '\'' && !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

// ---------------------------------------------------------------------------------------
// Linking plan steps to assets

#[derive(Debug)]
struct UsableAsset {
    id: AssetId,
    women_only: bool,
    name: String,
    category: String,
    district: String,
}

/// Where the directory's running, open assets are, by category, for linking plan steps.
#[derive(Debug)]
pub(super) struct DirectoryIndex {
    pub(super) directory: DocumentId,
    usable: Vec<UsableAsset>,
}

impl DirectoryIndex {
    pub(super) fn new(
        directory: DocumentId,
        inputs: &[AssetInput],
        ids: &[AssetId],
    ) -> DirectoryIndex {
        let mut usable = Vec::new();
        for (input, id) in inputs.iter().zip(ids) {
            if input.status != AssetStatus::Active || input.capacity == Capacity::Closed {
                continue;
            }
            let district = input
                .postcode
                .as_ref()
                .map(|p| p.district().to_owned())
                .unwrap_or_default();
            for c in &input.categories {
                usable.push(UsableAsset {
                    id: *id,
                    women_only: input.eligibility.as_deref() == Some("Women only"),
                    name: input.name.clone(),
                    category: c.clone(),
                    district: district.clone(),
                });
            }
        }
        DirectoryIndex { directory, usable }
    }

    /// An asset in `category`, as near the patient as the directory allows: usually in the
    /// same district, else the same town, else the same postcode area.
    pub(super) fn find(
        &self,
        rng: &mut SeedRng,
        person: &Person,
        category: &str,
    ) -> Option<(AssetId, &str)> {
        let district = person.place.district;
        let town = town_of(district);
        let area = area_of(district);
        let mut tiers: [Vec<&UsableAsset>; 4] = Default::default();
        let fits = |a: &&UsableAsset| a.category == category && (person.female || !a.women_only);
        for a in self.usable.iter().filter(fits) {
            let tier = if a.district == district {
                0
            } else if town.is_some() && town_of(&a.district) == town {
                1
            } else if area_of(&a.district) == area {
                2
            } else {
                3
            };
            tiers[tier].push(a);
        }
        let last = tiers.iter().rposition(|t| !t.is_empty())?;
        let tier = (0..last)
            .find(|i| !tiers[*i].is_empty() && rng.random_bool(0.8))
            .unwrap_or(last);
        tiers[tier].choose(rng).map(|a| (a.id, a.name.as_str()))
    }
}
