//! Session notes: the phrases a link worker writes (first meetings, regular sessions by area
//! of need, holding contacts, tapering, final sessions, missed appointments) and how a note
//! is composed from them.

use rand::Rng;

use super::{SeedRng, fresh, phrase, pick_distinct};
use crate::model::case_file::{CaseStatus, HoldingFunction, Need, SessionMode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoteKind {
    First,
    Regular,
    Final,
    DidNotAttend,
}

const FIRST_OPENERS: &[&str] = &[
    "First meeting. Explained what social prescribing is and how we can work together.",
    "First appointment; {name} was nervous at first but chatty once settled.",
    "Introductory session. Talked about what matters to {name} and what a good week would look like.",
    "First contact since the referral. Agreed to meet fortnightly to begin with.",
];
const FIRST_CLOSERS: &[&str] = &[
    "Started the action plan together in {name}'s own words.",
    "Agreed two small things to try before we next meet.",
    "Gave {name} my number and explained how to get back in touch.",
];
const OPENERS: &[&str] = &[
    "Good to see {name} today.",
    "Met at the usual time.",
    "Caught up on the last fortnight.",
    "{name} was in good spirits today.",
    "{name} seemed tired but wanted to keep the appointment.",
    "Reviewed the action plan together.",
    "Short catch-up.",
    "Checked in on how the week had gone.",
];
const NEXT_STEPS: &[&str] = &[
    "Next time: look at the group timetable together.",
    "Agreed to ring midweek to see how it went.",
    "{name} will try one thing from the plan before we next meet.",
    "I will chase the referral and update {name}.",
    "Follow-up booked.",
    "Plan updated with the new step.",
];
const TAPER_NOTES: &[&str] = &[
    "Talked about spacing out our sessions now that things are more settled.",
    "{name} feels ready to manage more independently; agreed monthly check-ins.",
    "Reviewed progress against the plan; most goals are under way without my help.",
];
const FINAL_NOTES: &[&str] = &[
    "Final session. Went through the action plan together and celebrated what has changed.",
    "Closing session; {name} knows how to get back in touch if things change.",
    "Last planned contact. {name} is settled at the group and has a friend to go with.",
];
const FINAL_EXTRAS: &[&str] = &[
    "Completed the follow-up questionnaires.",
    "{name} said the biggest change is having something to get up for.",
    "Will let the GP know the plan is complete.",
];
const DNA_ACTIONS: &[&str] = &[
    "Left a voicemail and sent a text to rebook.",
    "Rang later in the day and rebooked for next week.",
    "Will try again in a few days and check with the practice if there is no reply.",
    "Sent a letter with a new appointment.",
];
const HOLDING_EXTRAS: &[&str] = &[
    "Agreed to keep in touch fortnightly by phone.",
    "Will check in again after the assessment.",
    "Nothing to chase this week; a short call to keep the connection going.",
];

fn need_notes(need: Need) -> &'static [&'static str] {
    match need {
        Need::Loneliness => &[
            "{name} went along to the coffee morning for the first time and stayed for the whole session.",
            "Talked about how quiet the evenings are since the family moved away.",
            "{name} has been phoning a friend from the old street again, which has lifted things.",
            "Still finding it hard to walk into a room of strangers; we talked about going together the first time.",
            "Looked through the groups near home together; {name} liked the sound of the lunch club.",
            "Said the weekends are the hardest part of the week.",
            "Had a chat with a neighbour over the fence for the first time in months.",
        ],
        Need::Money => &[
            "Went through the bills together; the council tax arrears are the most pressing.",
            "The benefits check suggests {name} may be entitled to Pension Credit; application started.",
            "Debt advice appointment booked and the paperwork is ready to take.",
            "The energy supplier agreed a lower repayment plan after our call.",
            "{name} is still opening letters with dread but is no longer hiding them in a drawer.",
            "Food bank voucher issued to cover the gap until the next payment.",
            "PIP form half done; the rest is booked in with the advice service.",
        ],
        Need::Housing => &[
            "Reported the damp to the landlord in writing and kept a copy.",
            "The housing officer has visited and a repair is booked.",
            "Talked through the bidding system for a ground-floor flat.",
            "A letter from the landlord is worrying {name}; passed to the housing advice service with consent.",
            "Still waiting for the occupational therapy assessment for a stair rail.",
        ],
        Need::Employment => &[
            "Updated the CV together and saved it to email.",
            "{name} has an informal chat lined up about volunteering at the charity shop.",
            "Talked about what work might fit around health appointments.",
            "The first volunteering shift went well; {name} was tired but pleased.",
            "The work coach appointment went better than expected.",
        ],
        Need::MentalWellbeing => &[
            "Mood a little brighter this week; sleeping better since cutting down on late-night TV.",
            "Talked through what helps on bad days; {name} wrote a short list to keep on the fridge.",
            "Anxiety still high before going out, but managed the bus into town once.",
            "{name} said it helped to talk things through without feeling rushed.",
            "Reminded {name} about self-referring to Talking Therapies; will think about it.",
            "A difficult week; we kept things small and agreed one thing to try.",
        ],
        Need::PhysicalActivity => &[
            "Walked to the park gates and back together, about fifteen minutes.",
            "{name} has been doing the chair exercises from the leaflet most mornings.",
            "Tried the walking group; the pace was fine and the company helped.",
            "Knee pain flared up, so we swapped the walk for a seated session.",
            "Talked about building up the walk to the shops a little each week.",
        ],
        Need::CarerSupport => &[
            "{name} is exhausted; caring through the night most nights at the moment.",
            "Carers assessment requested from the local authority.",
            "Talked about a sitting service so {name} can have a few hours off each week.",
            "First time at the carers' café; met someone in a similar situation.",
            "Wrote down an emergency plan for the person {name} cares for.",
        ],
        Need::Other => &[
            "Sorted out a food parcel and a warm-home pack.",
            "Set up a video call with family on the tablet; {name} did it alone the second time.",
            "Talked about the garden and getting the allotment going again in spring.",
        ],
    }
}

fn holding_notes(function: HoldingFunction) -> &'static [&'static str] {
    match function {
        HoldingFunction::WaitingForService => &[
            "Still on the waiting list for the befriending service; checked {name} is still keen.",
            "Waiting to hear from the housing team; nothing more to chase this week.",
            "The Talking Therapies wait is about eight weeks; keeping in touch in the meantime.",
            "The group is full until the new term; {name} is on the list.",
        ],
        HoldingFunction::PreparingForChange => &[
            "Not ready to try a group yet; we talked through what a first visit might look like.",
            "{name} is thinking about the walking group but wants to wait for better weather.",
            "Talked about small steps: {name} will sit in the community centre café before trying the class.",
        ],
        HoldingFunction::ReducingClinicianBurden => &[
            "Sorted the prescription query with reception so it did not need a GP appointment.",
            "{name} rang about a form rather than booking with the GP; helped fill it in.",
            "Talked through the worries that were taking {name} to the surgery most weeks.",
        ],
        HoldingFunction::BearingWitness => &[
            "Mostly listened today. Things are hard and there is no quick fix; {name} said it helped to talk.",
            "A low week. No actions, just time to talk and be heard.",
            "{name} talked about the anniversary of the loss. Stayed with it rather than rushing to solutions.",
        ],
    }
}

fn fill(template: &str, name: &str) -> String {
    template.replace("{name}", name)
}

/// What one session note is about.
pub(super) struct NoteInput<'a> {
    pub(super) name: &'a str,
    pub(super) needs: &'a [Need],
    pub(super) status: CaseStatus,
    pub(super) kind: NoteKind,
    pub(super) mode: SessionMode,
    pub(super) functions: &'a [HoldingFunction],
}

/// A note of one to four sentences, composed from phrase lists; `used` holds the phrases
/// earlier notes of the same case used, so a case's notes do not repeat themselves.
pub(super) fn session_note(
    rng: &mut SeedRng,
    note: &NoteInput<'_>,
    used: &mut Vec<&'static str>,
) -> String {
    let mut parts: Vec<&str> = Vec::with_capacity(4);
    match note.kind {
        NoteKind::DidNotAttend => {
            parts.push(match note.mode {
                SessionMode::HomeVisit => "No answer at the door for the home visit.",
                SessionMode::Phone => "No answer at the arranged time.",
                SessionMode::Video => "Did not join the video call.",
                SessionMode::Practice | SessionMode::Community => "Did not attend.",
            });
            if rng.random_bool(0.8) {
                parts.push(phrase(rng, DNA_ACTIONS));
            }
        }
        NoteKind::First => {
            parts.push(phrase(rng, FIRST_OPENERS));
            parts.push(fresh(rng, need_notes(note.needs[0]), used));
            if rng.random_bool(0.6) {
                parts.push(phrase(rng, FIRST_CLOSERS));
            }
        }
        NoteKind::Final => {
            parts.push(phrase(rng, FINAL_NOTES));
            if rng.random_bool(0.7) {
                parts.push(phrase(rng, FINAL_EXTRAS));
            }
        }
        NoteKind::Regular if note.status == CaseStatus::Holding => {
            for f in note.functions {
                parts.push(fresh(rng, holding_notes(*f), used));
            }
            if parts.len() < 2 && rng.random_bool(0.5) {
                parts.push(fresh(rng, HOLDING_EXTRAS, used));
            }
        }
        NoteKind::Regular => {
            if note.status == CaseStatus::Tapering {
                parts.push(fresh(rng, TAPER_NOTES, used));
            } else if rng.random_bool(0.5) {
                parts.push(fresh(rng, OPENERS, used));
            }
            let topics = rng.random_range(1..=2);
            for need in pick_distinct(rng, note.needs, topics) {
                parts.push(fresh(rng, need_notes(*need), used));
            }
            if parts.len() < 4 && rng.random_bool(0.5) {
                parts.push(fresh(rng, NEXT_STEPS, used));
            }
        }
    }
    parts.truncate(4);
    fill(&parts.join(" "), note.name)
}
