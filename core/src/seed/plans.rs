//! Action plans: themes of goals and steps by directory category, "what matters" in the
//! patient's words, comments on the plan, and how a plan is written and then progressed.

use rand::Rng;
use rand::seq::SliceRandom;
use time::Date;

use super::patients::Person;
use super::{Ctx, SeedRng, category_for, days, fresh, phrase, pick, weighted};
use crate::Result;
use crate::model::action_plan::{AssetRef, GoalStatus, NewStep, StepOwner};
use crate::model::case_file::{CaseStatus, Need};
use crate::model::ids::{DocumentId, GoalId, StepId};
use crate::store::Store;

struct Theme {
    category: &'static str,
    goals: &'static [&'static str],
    /// (text, owner, whether "{asset}" in the text names a directory asset)
    steps: &'static [(&'static str, StepOwner, bool)],
}

const THEMES: &[Theme] = &[
    Theme {
        category: "loneliness",
        goals: &[
            "Get out of the house at least twice a week",
            "Meet people who like the same things as me",
            "Have someone to talk to in the evenings",
            "Go to a group on my own without feeling panicky",
        ],
        steps: &[
            (
                "Go along to {asset} for a first visit",
                StepOwner::Patient,
                true,
            ),
            (
                "Ask {asset} about a volunteer to go with the first time",
                StepOwner::LinkWorker,
                true,
            ),
            (
                "Ring my cousin on Sunday afternoons",
                StepOwner::Patient,
                false,
            ),
            (
                "Say hello to the neighbour at number 12",
                StepOwner::Patient,
                false,
            ),
            (
                "Find out about community transport to groups",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "money",
        goals: &[
            "Get on top of my debts",
            "Stop dreading the post",
            "Make sure I get all the benefits I am entitled to",
            "Keep the house warm this winter without getting into debt",
        ],
        steps: &[
            (
                "Book a debt advice appointment with {asset}",
                StepOwner::LinkWorker,
                true,
            ),
            (
                "Take bank statements and letters to {asset}",
                StepOwner::Patient,
                true,
            ),
            ("Put all the bills in one folder", StepOwner::Patient, false),
            ("Do a benefits check together", StepOwner::LinkWorker, false),
            (
                "Ring the energy supplier about a payment plan",
                StepOwner::Patient,
                false,
            ),
        ],
    },
    Theme {
        category: "housing",
        goals: &[
            "Get the damp in my flat sorted",
            "Move somewhere without stairs",
            "Feel safe in my own home",
            "Stay in my home",
        ],
        steps: &[
            (
                "Refer to {asset} for help with the landlord",
                StepOwner::LinkWorker,
                true,
            ),
            ("Ask {asset} about grab rails", StepOwner::Patient, true),
            (
                "Write to the landlord about the repairs and keep a copy",
                StepOwner::Patient,
                false,
            ),
            ("Register on the housing list", StepOwner::Patient, false),
            (
                "Ask the GP to support the housing application",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "employment",
        goals: &[
            "Find some part-time work",
            "Do some volunteering to get my confidence back",
            "Get my CV sorted",
            "Learn to use a computer for job applications",
        ],
        steps: &[
            ("Drop in to {asset}", StepOwner::Patient, true),
            (
                "Refer to {asset} for one-to-one support",
                StepOwner::LinkWorker,
                true,
            ),
            ("Update my CV", StepOwner::Patient, false),
            (
                "Look at volunteering roles together",
                StepOwner::LinkWorker,
                false,
            ),
            (
                "Practise an interview with a friend",
                StepOwner::Patient,
                false,
            ),
        ],
    },
    Theme {
        category: "mental wellbeing",
        goals: &[
            "Feel less anxious when I go out",
            "Sleep better",
            "Have a routine to my week",
            "Feel like myself again",
        ],
        steps: &[
            ("Try a session at {asset}", StepOwner::Patient, true),
            (
                "Find out when {asset} next runs",
                StepOwner::LinkWorker,
                true,
            ),
            (
                "Go to bed at the same time each night this week",
                StepOwner::Patient,
                false,
            ),
            (
                "Write down one good thing each day",
                StepOwner::Patient,
                false,
            ),
            (
                "Share the Talking Therapies self-referral details",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "physical activity",
        goals: &[
            "Walk to the shops and back without stopping",
            "Get fitter so I can play with my grandchildren",
            "Lose a bit of weight",
            "Get more active again",
        ],
        steps: &[
            ("Join {asset}", StepOwner::Patient, true),
            (
                "Check {asset} is suitable with my knees",
                StepOwner::LinkWorker,
                true,
            ),
            (
                "Walk to the end of the road and back every day",
                StepOwner::Patient,
                false,
            ),
            (
                "Do the chair exercises three times a week",
                StepOwner::Patient,
                false,
            ),
            (
                "Ask the practice nurse what exercise is safe",
                StepOwner::Patient,
                false,
            ),
        ],
    },
    Theme {
        category: "carer support",
        goals: &[
            "Have a bit of time for myself each week",
            "Find out what help there is for the person I care for",
            "Meet other carers who understand",
            "Get a carers assessment",
        ],
        steps: &[
            ("Go to {asset}", StepOwner::Patient, true),
            ("Refer to {asset}", StepOwner::LinkWorker, true),
            ("Request a carers assessment", StepOwner::LinkWorker, false),
            ("Write down an emergency plan", StepOwner::Patient, false),
            (
                "Ask family for one afternoon off a week",
                StepOwner::Patient,
                false,
            ),
        ],
    },
    Theme {
        category: "food",
        goals: &[
            "Have enough food in the cupboards until payday",
            "Learn to cook cheap, healthy meals",
        ],
        steps: &[
            ("Use {asset}", StepOwner::Patient, true),
            ("Issue a voucher for {asset}", StepOwner::LinkWorker, true),
            (
                "Plan meals for the week before shopping",
                StepOwner::Patient,
                false,
            ),
            ("Batch cook a soup and freeze it", StepOwner::Patient, false),
            (
                "Check eligibility for free school meals",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "digital",
        goals: &[
            "Learn to video call my family",
            "Do my Universal Credit journal online myself",
        ],
        steps: &[
            ("Go to {asset} with my tablet", StepOwner::Patient, true),
            ("Book a session at {asset}", StepOwner::LinkWorker, true),
            (
                "Practise a video call with my daughter",
                StepOwner::Patient,
                false,
            ),
            (
                "Write down my passwords somewhere safe",
                StepOwner::Patient,
                false,
            ),
            (
                "Find out about borrowing a tablet",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "bereavement",
        goals: &[
            "Talk to people who know what it is like to lose someone",
            "Sort out my husband's things when I am ready",
        ],
        steps: &[
            ("Go to {asset}", StepOwner::Patient, true),
            (
                "Ask {asset} about the next group",
                StepOwner::LinkWorker,
                true,
            ),
            ("Visit the grave with my sister", StepOwner::Patient, false),
            ("Make a memory box", StepOwner::Patient, false),
            (
                "Share details of bereavement counselling",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
    Theme {
        category: "arts",
        goals: &[
            "Get back into painting",
            "Try something creative with other people",
            "Make something with my hands again",
        ],
        steps: &[
            ("Try {asset}", StepOwner::Patient, true),
            (
                "Find out the next start date at {asset}",
                StepOwner::LinkWorker,
                true,
            ),
            ("Dig out my old sketchbook", StepOwner::Patient, false),
            (
                "Sing along to the radio every morning",
                StepOwner::Patient,
                false,
            ),
            (
                "Look for classes near home together",
                StepOwner::LinkWorker,
                false,
            ),
        ],
    },
];

fn theme(category: &str) -> &'static Theme {
    THEMES
        .iter()
        .find(|t| t.category == category)
        .unwrap_or(&THEMES[0])
}

const GENERAL_STEPS: &[&str] = &[
    "Talk this goal through at our next session",
    "Agree a first small step together",
    "Check in on this at the next review",
];

const EXTRA_GOAL_CATEGORIES: &[(&str, u32)] = &[
    ("mental wellbeing", 25),
    ("physical activity", 20),
    ("loneliness", 20),
    ("food", 8),
    ("digital", 10),
    ("bereavement", 6),
    ("arts", 11),
];

fn what_matters(need: Need) -> &'static [&'static str] {
    match need {
        Need::Loneliness => &[
            "Seeing people again and having somewhere to go during the week.",
            "Not feeling so on my own, especially in the evenings.",
        ],
        Need::Money => &[
            "Getting on top of the bills so I can stop worrying all the time.",
            "Having enough money to keep the heating on.",
        ],
        Need::Housing => &[
            "A home that is warm, dry and safe.",
            "Being able to stay in my own home.",
        ],
        Need::Employment => &[
            "Getting back to work and feeling useful again.",
            "Doing something with my days.",
        ],
        Need::MentalWellbeing => &[
            "Feeling like myself again.",
            "Being calmer and sleeping better.",
        ],
        Need::PhysicalActivity => &[
            "Being able to get about on my own.",
            "Getting fitter so I can keep up with the grandchildren.",
        ],
        Need::CarerSupport => &[
            "Looking after my family without running myself into the ground.",
            "A bit of time for me.",
        ],
        Need::Other => &[
            "My allotment and my grandchildren.",
            "Keeping in touch with my family.",
        ],
    }
}

pub(super) const PLAN_COMMENTS: &[&str] = &[
    "Went to the group on Tuesday. It was nicer than I expected.",
    "Can we move Thursday's appointment to the afternoon?",
    "I've sent the form off. Fingers crossed.",
    "Had a bad week but I still did the walk twice.",
    "Thank you for ringing the council for me.",
    "My daughter helped me set up the video call. It worked!",
];

pub(super) struct PlanGoal {
    id: GoalId,
    steps: Vec<StepId>,
}

/// Writes "what matters", 2–5 goals with 1–3 steps each and how to get back in touch.
pub(super) fn seed_plan(
    store: &mut Store,
    rng: &mut SeedRng,
    ctx: &Ctx<'_>,
    plan: DocumentId,
    person: &Person,
    needs: &[Need],
    start: Date,
) -> Result<Vec<PlanGoal>> {
    let mut matters = vec![*pick(rng, what_matters(needs[0]))];
    if needs.len() > 1 && rng.random_bool(0.5) {
        matters.push(phrase(rng, what_matters(needs[1])));
    }
    store.set_what_matters(plan, &matters.join(" "))?;

    let goal_count = rng.random_range(2..=5);
    let mut categories: Vec<&str> = needs
        .iter()
        .map(|n| {
            category_for(*n)
                .unwrap_or_else(|| *pick(rng, &["food", "digital", "bereavement", "arts"]))
        })
        .collect();
    categories.truncate(goal_count);
    while categories.len() < goal_count {
        categories.push(weighted(rng, EXTRA_GOAL_CATEGORIES));
    }
    let mut used_goals: Vec<&str> = Vec::new();
    let mut used_steps: Vec<&str> = Vec::new();
    let mut goals = Vec::with_capacity(goal_count);
    for category in categories {
        let mut theme = theme(category);
        let mut unused_goals: Vec<&&str> = theme
            .goals
            .iter()
            .filter(|g| !used_goals.contains(g))
            .collect();
        if unused_goals.is_empty() {
            // Every goal of this theme is taken: use the first theme with one left.
            theme = THEMES
                .iter()
                .find(|t| t.goals.iter().any(|g| !used_goals.contains(g)))
                .expect("the themes hold more goals than a plan ever has");
            unused_goals = theme
                .goals
                .iter()
                .filter(|g| !used_goals.contains(g))
                .collect();
        }
        let text = **pick(rng, &unused_goals);
        used_goals.push(text);
        let goal = store.add_goal(plan, text)?;

        let step_count = rng.random_range(1..=3);
        // Steps this plan has not used yet: a step serves one goal.
        let mut templates: Vec<&(&str, StepOwner, bool)> = theme
            .steps
            .iter()
            .filter(|(t, ..)| !used_steps.contains(t))
            .collect();
        templates.shuffle(rng);
        let mut steps = Vec::with_capacity(step_count);
        for (template, owner, wants_asset) in templates {
            if steps.len() == step_count {
                break;
            }
            let (text, asset) = if *wants_asset {
                let Some((id, name)) = ctx.dir.find(rng, person, theme.category) else {
                    continue;
                };
                (
                    template.replace("{asset}", name),
                    Some(AssetRef {
                        directory: ctx.dir.directory,
                        asset: id,
                    }),
                )
            } else {
                ((*template).to_owned(), None)
            };
            used_steps.push(*template);
            let due = if rng.random_bool(0.7) {
                Some(start + days(rng.random_range(7..=42)))
            } else {
                None
            };
            steps.push(store.add_step(
                plan,
                &NewStep {
                    goal: Some(goal),
                    text,
                    owner: *owner,
                    due,
                    asset,
                },
            )?);
        }
        if steps.is_empty() {
            // Earlier goals used this theme's steps: a general one keeps every goal moving.
            let text = fresh(rng, GENERAL_STEPS, &mut used_steps);
            steps.push(store.add_step(
                plan,
                &NewStep {
                    goal: Some(goal),
                    text: text.to_owned(),
                    owner: StepOwner::LinkWorker,
                    due: Some(start + days(rng.random_range(7..=28))),
                    asset: None,
                },
            )?);
        }
        goals.push(PlanGoal { id: goal, steps });
    }

    let practice = person
        .patient
        .practice
        .as_deref()
        .unwrap_or("your practice");
    store.set_get_back_in_touch(
        plan,
        &format!(
            "Ring {} on {} (Monday to Friday, 9am to 5pm) or leave a message with reception \
             at {practice}. If it cannot wait, call 111.",
            ctx.team.worker_first_name, ctx.team.worker_phone
        ),
    )?;
    Ok(goals)
}

/// Ticks steps off and moves goals on, further for cases that are further along.
pub(super) fn progress_plan(
    store: &mut Store,
    rng: &mut SeedRng,
    plan: DocumentId,
    goals: &[PlanGoal],
    goal_status: CaseStatus,
) -> Result<()> {
    let p_done = match goal_status {
        CaseStatus::Closed => 0.8,
        CaseStatus::Tapering => 0.7,
        CaseStatus::Holding => 0.25,
        _ => 0.45,
    };
    for goal in goals {
        let mut done = 0;
        for step in &goal.steps {
            if rng.random_bool(p_done) {
                store.set_step_done(plan, *step, true)?;
                done += 1;
            }
        }
        let status = if rng.random_bool(0.05) {
            GoalStatus::NoLongerRelevant
        } else if done == goal.steps.len() {
            if rng.random_bool(0.8) {
                GoalStatus::Achieved
            } else {
                GoalStatus::InProgress
            }
        } else if done > 0 {
            GoalStatus::InProgress
        } else if goal_status == CaseStatus::Holding && rng.random_bool(0.5) {
            GoalStatus::Paused
        } else if rng.random_bool(0.4) {
            GoalStatus::InProgress
        } else {
            GoalStatus::NotStarted
        };
        if status != GoalStatus::NotStarted {
            store.set_goal_status(plan, goal.id, status)?;
        }
    }
    Ok(())
}
