//! The command line: every command, option and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use holdfast_core::feedback::FeedbackKind;
use holdfast_core::model::action_plan::{ConnectionStatus, GoalStatus, StepOwner};
use holdfast_core::model::case_file::{
    CaseStatus, ClosureReason, ConcernStatus, ContactMethod, DeclineReason, EscalationTarget,
    HoldingFunction, Need, NotCompletedReason, ReferralSource, SessionMode,
};
use holdfast_core::model::directory::{AssetStatus, Capacity};
use holdfast_core::model::measures::Instrument;
use holdfast_core::model::private_notes::NoteKind;
use holdfast_core::store::LoadLimits;
use holdfast_core::sync::Role;
use time::{Date, PrimitiveDateTime};

use crate::choice::{choice, date, date_time};

const ABOUT: &str = "Holdfast on a desktop: caseload, case files, action plans, outcome measures \
and the community asset directory, for social prescribing link workers and their supervisors.";

const AFTER_HELP: &str = "\
Your records are kept in an encrypted store in the --home folder (./holdfast-device unless you
say otherwise). The key that unlocks it is a separate file, holdfast-store.key, in the --keys
folder (<home>/keys unless you say otherwise), readable only by you. Without that key file nobody,
including you, can read the store: keep it safe, and keep it off shared drives.

Ids: commands print the ids of what they create. Where a case is asked for, the first 6 or more
characters of its id are enough when they match only one case (see `holdfast caseload`).

Start with:  holdfast init --name \"Your Name\"
Share records with colleagues through a relay: see `holdfast team --help`.
See sync at work, with made-up people, without touching your records:  holdfast demo";

const INIT_AFTER_HELP: &str = "\
The store is created in the --home folder and encrypted with a new random key. The key is saved
as holdfast-store.key in the --keys folder (<home>/keys unless you say otherwise), readable only
by you. Keep that file safe: without it the store cannot be opened.";

/// The `holdfast` command line.
#[derive(Debug, Parser)]
#[command(
    name = "holdfast",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The folder holding this device's encrypted Holdfast store.
    #[arg(
        long,
        global = true,
        env = "HOLDFAST_HOME",
        help_heading = "Where your records are",
        default_value = "./holdfast-device",
        value_name = "DIR"
    )]
    pub home: PathBuf,

    /// The folder holding the store's key file, holdfast-store.key [default: <home>/keys].
    #[arg(
        long,
        global = true,
        env = "HOLDFAST_KEYS",
        value_name = "DIR",
        help_heading = "Where your records are"
    )]
    pub keys: Option<PathBuf>,

    /// Print the result as JSON on stdout, for scripts and other programs.
    #[arg(long, global = true, help_heading = "Output")]
    pub json: bool,

    /// INSECURE, for a development network only: talk plain http:// to a relay on any host,
    /// not only on this computer. Anyone on the network can then read this device's sign-in
    /// tokens and what it syncs when. Never with real records: use the relay's https://
    /// address.
    #[arg(long, global = true, help_heading = "Development only")]
    pub insecure_http_to_any_host: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Everything holdfast can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up Holdfast on this computer: creates the encrypted store and its key.
    #[command(after_help = INIT_AFTER_HELP)]
    Init {
        /// Your name, recorded with every change you make ("Sam Okafor").
        #[arg(long)]
        name: String,
    },
    /// Add a patient: creates their case file and an empty action plan.
    #[command(subcommand)]
    Patient(PatientCommand),
    /// Record referrals and decide whether to take them on.
    #[command(subcommand)]
    Referral(ReferralCommand),
    /// How sync stands for each team; with `set` or `resolve`, move a case along.
    Status(StatusArgs),
    /// Record a contact with a patient (a visit, call, or a did-not-attend).
    #[command(subcommand)]
    Session(SessionCommand),
    /// Read a case file or its change history, or hand the case to a link worker.
    #[command(subcommand)]
    Case(CaseCommand),
    /// The patient's action plan: what matters to them, goals, steps, comments.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Add goals to an action plan and mark how they are going.
    #[command(subcommand)]
    Goal(GoalCommand),
    /// Add the small steps towards a goal, and tick them off.
    #[command(subcommand)]
    Step(StepCommand),
    /// Record an outcome measure: ONS4, GSE or SWEMWBS.
    #[command(subcommand)]
    Measure(MeasureCommand),
    /// Raise a safeguarding concern and record what happened to it.
    #[command(subcommand)]
    Safeguarding(SafeguardingCommand),
    /// Supervision: comments on a case, the review queue, each link worker's caseload, and
    /// the comments a link worker has yet to acknowledge.
    #[command(subcommand)]
    Supervision(SupervisionCommand),
    /// List your caseload, soonest follow-up first.
    Caseload(CaseloadArgs),
    /// What is due for you on a day: follow-ups, first contacts, ring-backs and outcome
    /// measures, on the cases you hold; overdue ones marked.
    Worklist(WorklistArgs),
    /// Calls owed to a patient (after a missed call): add one with the day it is due, and
    /// mark it done once the call is made.
    #[command(subcommand)]
    RingBack(RingBackCommand),
    /// The message back to the GP and referrer, at acceptance, decline or closure: readable
    /// text and a FHIR R4 Bundle file, made on this device from the case (never its notes).
    #[command(subcommand)]
    Feedback(FeedbackCommand),
    /// Your private supervision notes (wellbeing, training needs, reflection): read only by
    /// you and your team's supervisors and admins, who may respond.
    #[command(subcommand)]
    Notes(NotesCommand),
    /// The community asset directory: groups, services and activities to refer people to.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Export one document as raw Automerge bytes with its heads (unencrypted).
    #[command(subcommand)]
    Document(DocumentCommand),
    /// Write everything on this device as JSON (unencrypted: handle the file with care).
    Export {
        /// Write to this file (readable only by you) instead of the screen.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The outcomes report for a period, over the case files on this device: the person
    /// (ONS4, GSE, SWEMWBS change), the community (connections by outcome and asset
    /// category, waiting lists) and the system (referrals, time to first contact, sessions,
    /// holding). It names no one; counts under 5 show as "<5".
    Report {
        /// The first day counted.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        from: Date,
        /// The last day counted (today, if later).
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        to: Date,
        /// JSON (the whole structure) or CSV (one figure a row).
        #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
        format: ReportFormat,
        /// Write to this file instead of the screen.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Teams: share this device's records with colleagues through a relay.
    #[command(subcommand, after_help = TEAM_AFTER_HELP)]
    Team(TeamCommand),
    /// One-time invite codes: make one for a colleague's device, or join a team with one.
    #[command(subcommand, after_help = TEAM_AFTER_HELP)]
    Invite(InviteCommand),
    /// This device, and the devices of a team: list them, revoke a lost or departed one.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Send this device's changes to the relay and fetch the team's (or, with --watch,
    /// keep following the team).
    #[command(after_help = SYNC_AFTER_HELP)]
    Sync(SyncArgs),
    /// The supervisor's desk: the review queue, case files and the team's load in a web
    /// browser on this computer, from this device's store, kept live with the relay.
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),
    /// A self-contained demo: a relay and three devices on this computer, made-up people,
    /// two link workers editing the same case offline, and what each device sees after sync.
    Demo(DemoArgs),
    /// Fill the store with made-up patients and assets, for demos and training.
    Seed {
        /// How many made-up patients.
        #[arg(long, default_value_t = 250)]
        patients: usize,
        /// How many made-up community assets.
        #[arg(long, default_value_t = 2000)]
        assets: usize,
        /// The same seed gives the same made-up data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// `holdfast patient …`
#[derive(Debug, Subcommand)]
pub enum PatientCommand {
    /// Add a patient. Prints the new case id and action plan id.
    Add(PatientAdd),
}

/// A new patient's details.
#[derive(Debug, Args)]
pub struct PatientAdd {
    /// Full name.
    #[arg(long)]
    pub name: String,
    /// NHS number, 10 digits (spaces allowed: "943 476 5919").
    #[arg(long, value_name = "NUMBER")]
    pub nhs_number: Option<String>,
    /// Date of birth.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub dob: Option<Date>,
    /// Address, on one line.
    #[arg(long)]
    pub address: Option<String>,
    /// Postcode ("LS6 2AB").
    #[arg(long)]
    pub postcode: Option<String>,
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// How they prefer to be contacted.
    #[arg(long, value_name = "HOW", value_parser = choice::<ContactMethod>())]
    pub contact: Option<ContactMethod>,
    /// Preferred language.
    #[arg(long)]
    pub language: Option<String>,
    /// Accessibility needs (interpreter, large print, step-free access).
    #[arg(long, value_name = "NEEDS")]
    pub access: Option<String>,
    /// The GP practice they are registered with.
    #[arg(long)]
    pub practice: Option<String>,
    /// Create the case even though a case in this team already has the NHS number (a
    /// re-referral belongs on the existing case: `holdfast referral add CASE`).
    #[arg(long)]
    pub deliberate_duplicate: bool,
}

/// `holdfast referral …`
#[derive(Debug, Subcommand)]
pub enum ReferralCommand {
    /// Record a referral as received. On a closed case this re-opens it.
    Add(ReferralAdd),
    /// Take the referral on: a referred case becomes active.
    Accept {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The referral id (shown by `referral add` and `case show`).
        referral: String,
    },
    /// Decline the referral, saying why.
    Decline {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The referral id (shown by `referral add` and `case show`).
        referral: String,
        /// Why, in your words (kept in the case file; never sent to the GP).
        #[arg(long)]
        reason: String,
        /// Why, coded for the message back to the GP: person_declined, not_eligible,
        /// referred_elsewhere, unable_to_contact or other.
        #[arg(long, value_parser = choice::<DeclineReason>())]
        code: Option<DeclineReason>,
    },
}

/// A referral as received.
#[derive(Debug, Args)]
pub struct ReferralAdd {
    /// The case (id, or its first 6+ characters).
    pub case: String,
    /// Who referred.
    #[arg(long, value_parser = choice::<ReferralSource>())]
    pub source: ReferralSource,
    /// The referrer's name or role ("Dr Patel", "practice nurse").
    #[arg(long, value_name = "WHO")]
    pub referrer: Option<String>,
    /// Why, in the referrer's words.
    #[arg(long)]
    pub reason: String,
    /// An area of need; repeat it or separate with commas for several.
    #[arg(long = "need", value_name = "NEED", value_delimiter = ',', value_parser = choice::<Need>())]
    pub needs: Vec<Need>,
    /// When it was received [default: today].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub received: Option<Date>,
}

/// `holdfast status [set|resolve …]`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct StatusArgs {
    /// Only this team (id, or its first 6+ characters) [default: every team].
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// Change a case's status, or settle a status conflict.
    #[command(subcommand)]
    pub command: Option<StatusCommand>,
}

/// `holdfast status set|resolve …`
#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// Change the case status. Allowed moves: referred → active or closed; active → holding,
    /// tapering or closed; holding → active, tapering or closed; tapering → active or closed.
    /// A closed case is re-opened by adding a referral.
    Set {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The new status.
        #[arg(value_parser = choice::<CaseStatus>())]
        status: CaseStatus,
        /// Why, for the status history.
        #[arg(long)]
        reason: Option<String>,
        /// Closing: why, coded for the message back to the GP: goals_met, did_not_attend,
        /// declined_further_support, unable_to_contact, moved_away, died,
        /// referred_elsewhere or other.
        #[arg(long, value_parser = choice::<ClosureReason>())]
        code: Option<ClosureReason>,
    },
    /// When two devices set different statuses, choose which one stands.
    Resolve {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// One of the competing statuses shown by `case show`.
        #[arg(value_parser = choice::<CaseStatus>())]
        status: CaseStatus,
    },
}

/// `holdfast session …`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Record a session with its note.
    Record(SessionRecord),
    /// Replace a session's note (also settles a note two devices amended at once).
    AmendNote {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The session id (shown by `session record` and `case show`).
        session: String,
        /// The note as it should now read.
        #[arg(long)]
        note: String,
    },
}

/// A session as it happened.
#[derive(Debug, Args)]
pub struct SessionRecord {
    /// The case (id, or its first 6+ characters).
    pub case: String,
    /// How it took place.
    #[arg(long, value_parser = choice::<SessionMode>())]
    pub mode: SessionMode,
    /// How long, in minutes.
    #[arg(long)]
    pub minutes: u32,
    /// What happened, what was agreed.
    #[arg(long)]
    pub note: String,
    /// The patient did not attend.
    #[arg(long)]
    pub did_not_attend: bool,
    /// What holding did for the patient; repeat it or separate with commas for several.
    #[arg(long = "holding", value_name = "FUNCTION", value_delimiter = ',', value_parser = choice::<HoldingFunction>())]
    pub holding: Vec<HoldingFunction>,
    /// When to get back in touch.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub follow_up: Option<Date>,
    /// When it started, in local time [default: now].
    #[arg(long, value_name = "YYYY-MM-DD HH:MM", value_parser = date_time)]
    pub at: Option<PrimitiveDateTime>,
}

/// `holdfast case …`
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Show the whole case file: patient, status, who holds it and its handovers,
    /// referrals, sessions, ring-backs, measures, safeguarding and supervision.
    Show {
        /// The case (id, or its first 6+ characters).
        case: String,
    },
    /// Hand the case to a link worker (also settles a case assigned on two devices at once).
    /// Every handover is kept in the case: who, to whom, when and why.
    Assign {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// Who holds it from now: `me`, a device id (or its first 6+ characters), or a team
        /// member's name as `holdfast device list` shows it (any case).
        worker: String,
        /// Their name, when this device does not know it yet ("Priya Natarajan").
        #[arg(long)]
        name: Option<String>,
        /// Why ("caseload rebalanced", "Sam on leave").
        #[arg(long)]
        reason: Option<String>,
    },
    /// Who changed what in the case file, and when.
    History {
        /// The case (id, or its first 6+ characters).
        case: String,
    },
    /// One patient's record for a subject access request: case file, action plan and the
    /// history of both, and nothing of anyone else. Review it before disclosure.
    Export {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// json or text.
        #[arg(long, value_enum)]
        format: SarFormat,
        /// Write to this file (readable only by you) instead of the screen.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// The form of a subject access export.
/// How `holdfast report` writes the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The whole structure as JSON.
    Json,
    /// One figure a row: area, measure, breakdown, value.
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SarFormat {
    /// Pretty JSON, the same bytes for the same record.
    Json,
    /// Readable text with plain headings, dates in UK form.
    Text,
}

/// `holdfast document …`
#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Write a document (case file, plan, directory...) as a plain Automerge document, for
    /// any Automerge library to load; its heads go beside it in FILE.heads.
    Export {
        /// The document (id, or its first 6+ characters).
        document: String,
        /// The file to write (FILE.automerge).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `holdfast plan …`
#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Show the action plan. Takes the plan id or the case id.
    Show {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
    },
    /// Share the action plan with the patient's own device: prints a one-time invite code
    /// that lets that device read and write this plan, and nothing else of the team's.
    Share {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// How long the code can be redeemed, in minutes.
        #[arg(long, value_name = "MINUTES", default_value_t = 15, value_parser = valid_for())]
        valid_for: u64,
    },
    /// Set "what matters to me", in the patient's own words.
    WhatMatters {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// What matters to the patient.
        text: String,
    },
    /// Add a comment to the plan (the patient sees it).
    Comment {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// The comment.
        text: String,
    },
    /// Set how the patient can get back in touch with you.
    GetBackInTouch {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// How to get back in touch ("call the surgery and ask for Sam").
        text: String,
    },
    /// The plan as the patient reads it, without ids: large print to print, or plain text
    /// for an SMS to someone without a smartphone.
    Render {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// large-print or plain-text.
        #[arg(long, value_enum, default_value = "large-print")]
        style: PlanStyle,
        /// Write to this file instead of the screen.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Copy into the plan the current directory listing of each linked asset, this
    /// device's "about me" text and the team's out-of-hours wording and working hours.
    #[command(visible_alias = "refresh-assets")]
    Refresh {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
    },
    /// Show or set the "about your link worker" text new plans carry (your name, role,
    /// how to reach you); `holdfast plan refresh` copies it into an existing plan.
    AboutMe {
        /// The text ("" clears it); without it, shows the text.
        text: Option<String>,
        /// Also copy it into this plan (or its case's) now.
        #[arg(long, value_name = "PLAN")]
        plan: Option<String>,
    },
}

/// How `plan render` lays the plan out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanStyle {
    /// For printing: short lines, headings in capitals.
    LargePrint,
    /// For an SMS: compact, no markup.
    PlainText,
}

/// `holdfast goal …`
#[derive(Debug, Subcommand)]
pub enum GoalCommand {
    /// Add a goal, in the patient's words.
    Add {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// The goal.
        text: String,
    },
    /// Mark how a goal is going.
    Status {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// The goal id (shown by `goal add` and `plan show`).
        goal: String,
        /// Where the goal stands.
        #[arg(value_parser = choice::<GoalStatus>())]
        status: GoalStatus,
    },
}

/// `holdfast step …`
#[derive(Debug, Subcommand)]
pub enum StepCommand {
    /// Add a step.
    Add {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// What to do.
        text: String,
        /// The goal it works towards (its id).
        #[arg(long)]
        goal: Option<String>,
        /// Who does it.
        #[arg(long, value_parser = choice::<StepOwner>(), default_value = "patient")]
        owner: StepOwner,
        /// By when.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        due: Option<Date>,
        /// A community asset it involves, as DIRECTORY:ASSET (from `directory search`).
        #[arg(long, value_name = "DIRECTORY:ASSET")]
        asset: Option<String>,
    },
    /// Record where the person's connection to the step's community asset stands:
    /// suggested, contacted, attended, still_going, waiting_list, declined, not_suitable or
    /// service_closed (dated, by you; the history is kept).
    Connect {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// The step id (shown by `step add` and `plan show`).
        step: String,
        /// Where it stands.
        #[arg(value_parser = choice::<ConnectionStatus>())]
        status: ConnectionStatus,
        /// The day it stood so [default: today; never later].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        on: Option<Date>,
    },
    /// Tick a step off (or, with --undo, un-tick it).
    Done {
        /// The action plan or its case (id, or its first 6+ characters).
        plan: String,
        /// The step id (shown by `step add` and `plan show`).
        step: String,
        /// Mark the step as not done after all.
        #[arg(long)]
        undo: bool,
    },
}

/// `holdfast measure …`
#[derive(Debug, Subcommand)]
pub enum MeasureCommand {
    /// Record the answers to a questionnaire, in item order. ONS4: 4 answers, 0–10;
    /// GSE: 10 answers, 1–4; SWEMWBS: 7 answers, 1–5.
    Record {
        /// Which questionnaire.
        #[arg(value_parser = choice::<Instrument>())]
        instrument: Instrument,
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The answers, comma-separated, in item order ("7,6,8,3").
        #[arg(long, allow_hyphen_values = true)]
        answers: String,
        /// The day it was filled in [default: today].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        on: Option<Date>,
    },
    /// Record that a questionnaire was offered and not completed, and why (nothing is
    /// scored; a partial questionnaire is never recorded).
    NotCompleted {
        /// Which questionnaire.
        #[arg(value_parser = choice::<Instrument>())]
        instrument: Instrument,
        /// The case (id, or its first 6+ characters).
        case: String,
        /// declined, not_appropriate_today or distressing.
        #[arg(long, value_parser = choice::<NotCompletedReason>())]
        reason: NotCompletedReason,
        /// The day it was offered [default: today].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        on: Option<Date>,
    },
}

/// `holdfast safeguarding …`
#[derive(Debug, Subcommand)]
pub enum SafeguardingCommand {
    /// Raise a concern. With --escalate, record that it has been passed on.
    Raise {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// What was seen or heard.
        #[arg(long)]
        description: String,
        /// Already passed on to.
        #[arg(long, value_name = "TO", value_parser = choice::<EscalationTarget>())]
        escalate: Option<EscalationTarget>,
    },
    /// Change where a concern stands (escalated needs --to).
    Status {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The concern id (shown by `safeguarding raise` and `case show`).
        concern: String,
        /// open, escalated or closed.
        #[arg(value_parser = choice::<ConcernStatus>())]
        status: ConcernStatus,
        /// Where it was escalated.
        #[arg(long, value_name = "TARGET", value_parser = choice::<EscalationTarget>())]
        to: Option<EscalationTarget>,
    },
    /// When two devices recorded different statuses for a concern, choose which one stands.
    Resolve {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The concern id.
        concern: String,
        /// One of the competing statuses shown by `case show`.
        #[arg(value_parser = choice::<ConcernStatus>())]
        status: ConcernStatus,
    },
}

/// `holdfast supervision …`
#[derive(Debug, Subcommand)]
pub enum SupervisionCommand {
    /// Add a supervision comment to a case (not shown to the patient).
    Comment {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The comment.
        text: String,
    },
    /// Your review queue: cases with an open safeguarding concern first, then cases devices
    /// disagree on, then the most recently changed, each saying what changed since you last
    /// reviewed it.
    Queue {
        /// At most this many cases.
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
    },
    /// Review a case: shows what changed since your last review, adds your comment if you
    /// give one, and marks the case reviewed as it stands now (supervisors and admins).
    Review {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// A supervision comment to add with the review.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
    },
    /// Each link worker's caseload and holding load, held against the team's limits (or
    /// the ones you give for this reading).
    Load(LoadArgs),
    /// The team's limits and who set them; with any limit given, sets them for the whole
    /// team (supervisors and admins; the others keep their values).
    Limits(LimitsArgs),
    /// The wording every patient's plan carries: out-of-hours and crisis wording and the
    /// team's working hours (UK time). With either given, sets it for the whole team
    /// (supervisors and admins); plans take it up when created or refreshed.
    PlanWording {
        /// Out-of-hours and crisis wording ("If you are in crisis, call 111...").
        #[arg(long, value_name = "TEXT")]
        out_of_hours: Option<String>,
        /// Working days and hours, e.g. "Mon-Fri 09:00-17:00" or "Mon,Wed,Fri 09:30-16:30".
        #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
        working_hours: Option<String>,
    },
    /// Supervision comments on the cases you hold that you have not acknowledged yet.
    Comments,
    /// Acknowledge a supervision comment on a case you hold.
    Ack {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The comment id (shown by `supervision comments` and `case show`).
        comment: String,
    },
}

/// Limits a caseload is held against; each one not given is the team's.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// People accepted in the last 12 months above which a caseload is flagged [default:
    /// the team's; 250 until someone sets it].
    #[arg(long, value_name = "N")]
    pub accepted_per_year: Option<u32>,
    /// Count cases in holding for more than this many days [default: the team's; 60].
    #[arg(long, value_name = "N")]
    pub held_days: Option<u32>,
    /// Count open cases with more than this many sessions [default: the team's; 12].
    #[arg(long, value_name = "N")]
    pub max_sessions: Option<u32>,
    /// Count cases open for more than this many days [default: the team's; 91].
    #[arg(long, value_name = "N")]
    pub open_days: Option<u32>,
}

impl LoadArgs {
    /// `base` with the limits given here in place of its own.
    pub fn over(&self, base: LoadLimits) -> LoadLimits {
        LoadLimits {
            accepted_per_year: self.accepted_per_year.unwrap_or(base.accepted_per_year),
            held_days: self.held_days.unwrap_or(base.held_days),
            sessions: self.max_sessions.unwrap_or(base.sessions),
            open_days: self.open_days.unwrap_or(base.open_days),
            ..base
        }
    }

    /// Whether any limit was given.
    pub fn any(&self) -> bool {
        self.accepted_per_year.is_some()
            || self.held_days.is_some()
            || self.max_sessions.is_some()
            || self.open_days.is_some()
    }
}

/// `holdfast supervision limits`
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// The caseload limits to set.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Working days (Monday to Friday) a new referral may wait for first contact (1–60)
    /// [default: the team's; 5].
    #[arg(long, value_name = "N")]
    pub first_contact_days: Option<u32>,
    /// Why, kept with the setting (only when setting).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `holdfast feedback …`
#[derive(Debug, Subcommand)]
pub enum FeedbackCommand {
    /// Write the message back for a case: prints the text; --out saves the FHIR R4 Bundle.
    Write {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// accepted, declined or closed [default: where the case stands: closed if it is,
        /// else the latest referral's decision].
        #[arg(long, value_parser = choice::<FeedbackKind>())]
        at: Option<FeedbackKind>,
        /// Text you choose to add (nothing from notes goes in otherwise).
        #[arg(long, value_name = "TEXT")]
        add: Option<String>,
        /// Save the FHIR R4 Bundle (JSON) to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Record that the message back was sent: the worklist stops listing it.
    Sent {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// To whom ("Dr Patel, Chapel Allerton Medical Centre").
        #[arg(long, value_name = "WHOM")]
        to: String,
        /// accepted, declined or closed [default: where the case stands].
        #[arg(long, value_parser = choice::<FeedbackKind>())]
        at: Option<FeedbackKind>,
        /// The day it was sent [default: today; never later].
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        on: Option<Date>,
    },
}

/// `holdfast worklist`
#[derive(Debug, Args)]
pub struct WorklistArgs {
    /// The day to list [default: today].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub on: Option<Date>,
    /// Working days (Monday to Friday) a new referral may wait for first contact [default:
    /// the team's; 5].
    #[arg(long, value_name = "N")]
    pub first_contact_days: Option<u32>,
}

/// `holdfast notes …`
#[derive(Debug, Subcommand)]
pub enum NotesCommand {
    /// Add a note to your private notes. Prints its id.
    Add {
        /// wellbeing, training_need or reflection.
        #[arg(value_parser = choice::<NoteKind>())]
        kind: NoteKind,
        /// The note.
        text: String,
    },
    /// Show private notes: yours, or (supervisors and admins) a colleague's.
    Show {
        /// `me`, a colleague's name or device id (6+ characters).
        #[arg(default_value = "me")]
        worker: String,
    },
    /// Respond to a note in a colleague's private notes (supervisors and admins).
    Respond {
        /// Whose notes: a name or device id (6+ characters).
        worker: String,
        /// The note's id (6+ characters).
        note: String,
        /// The response.
        text: String,
    },
}

/// `holdfast ring-back …`
#[derive(Debug, Subcommand)]
pub enum RingBackCommand {
    /// Add a call owed to the patient, due on a day. Prints its id.
    Add {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The day the call is due.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
        due: Date,
        /// What it is about ("missed call about the PIP form").
        #[arg(long, value_name = "TEXT")]
        note: String,
    },
    /// Record that the call was made.
    Done {
        /// The case (id, or its first 6+ characters).
        case: String,
        /// The ring-back id (shown by `ring-back add`, `worklist` and `case show`).
        ring_back: String,
    },
}

/// Which cases to list.
#[derive(Debug, Args)]
pub struct CaseloadArgs {
    /// Only cases in this status.
    #[arg(long, value_parser = choice::<CaseStatus>())]
    pub status: Option<CaseStatus>,
    /// Only patients of this GP practice.
    #[arg(long)]
    pub practice: Option<String>,
    /// Only cases with a follow-up due on or before this day.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date)]
    pub due_by: Option<Date>,
    /// Only cases with an open safeguarding concern.
    #[arg(long)]
    pub safeguarding: bool,
    /// Only cases of this team (id, or its first 6+ characters) [default: every team].
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
}

/// `holdfast directory …`
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Start an empty directory for an area ("Leeds North").
    Create {
        /// The area it covers.
        area: String,
    },
    /// List the directories on this device.
    List,
    /// Import services from an Open Referral UK JSON file. Nothing is imported if the file
    /// cannot be read as a whole.
    Import {
        /// The JSON file.
        file: PathBuf,
        /// The directory to import into [default: the only one on this device, or a new one
        /// named after the file].
        #[arg(long, value_name = "ID")]
        directory: Option<String>,
    },
    /// Write a directory as Open Referral UK 3.0 JSON (one page of services), which
    /// `directory import` (here or in another directory's system) reads back.
    Export {
        /// The directory (id, or its first 6+ characters) [default: the only one on this
        /// device].
        #[arg(long, visible_alias = "dir", value_name = "ID")]
        directory: Option<String>,
        /// Write to this file; `-`, or no --out, writes it to the screen.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Find community assets by words, category, area and whether they can take people.
    Search(DirectorySearch),
    /// Show everything about one asset.
    Show {
        /// The directory id (or its first 6+ characters).
        directory: String,
        /// The asset id.
        asset: String,
    },
    /// Share a directory with another team this device is in: both teams then keep one
    /// directory, and this device carries each team's edits to the other when it syncs.
    Share {
        /// The directory id (or its first 6+ characters).
        directory: String,
        /// The team to share it with (id, or its first 6+ characters).
        #[arg(long, value_name = "ID")]
        team: String,
    },
    /// Demand for each community asset from the plans on this device: people connected,
    /// attending, on waiting lists, declined. Most demanded first.
    Demand {
        /// Only this directory (id, or its first 6+ characters).
        directory: Option<String>,
    },
}

/// A directory search.
#[derive(Debug, Args)]
pub struct DirectorySearch {
    /// Words to look for in names, descriptions and categories.
    pub text: Option<String>,
    /// Only this category ("physical activity").
    #[arg(long)]
    pub category: Option<String>,
    /// Only this postcode district ("LS6"; a full postcode works too).
    #[arg(long)]
    pub district: Option<String>,
    /// Only assets that can take people now (open), have a waiting list, or are full (closed).
    #[arg(long, value_parser = choice::<Capacity>())]
    pub capacity: Option<Capacity>,
    /// Only assets that are running (active), paused, or gone.
    #[arg(long, value_parser = choice::<AssetStatus>())]
    pub status: Option<AssetStatus>,
    /// At most this many results.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

const TEAM_AFTER_HELP: &str = "\
A team is the people whose devices share records through one relay. Everything shared is
end-to-end encrypted: the relay stores what it cannot read, and every device checks who
is in the team against a log only the team's admins can sign.

Setting one up:
  1. an admin:         holdfast team create --relay https://relay.example.org
  2. the admin:        holdfast invite create --role link-worker   (prints a one-time code)
  3. the colleague:    holdfast invite redeem                      (paste the code)
  4. everyone:         holdfast sync
A code works once, for 15 minutes unless --valid-for says otherwise: hand it over in person
or show it on screen. A relay with a certificate authority of its own (no public
certificate): `team create --relay-ca ca.pem`, and every code carries that CA's pin, so a
device trusts that relay, and only through that CA, from the moment it redeems one.
Plain http:// is for a relay on this computer (127.0.0.1, localhost). A patient's own device gets a code for their plan only:
`holdfast plan share CASE`. A lost phone or a colleague who leaves: `holdfast device revoke`.";

const SYNC_AFTER_HELP: &str = "\
Without --watch, one round: push what waits here, pull what is new, and say where things
stand. With --watch, it keeps a live connection (a line says when it is up) and pulls as
colleagues' changes arrive, one line per pull, until Ctrl-C (or --for SECONDS). While it runs, other holdfast commands on this
device wait for it: stop it first to make changes here.";

/// `holdfast team …`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Start a team at a relay, with this device as its first admin. Prints the team id;
    /// colleagues join with invites (`holdfast invite create`).
    Create {
        /// The relay's address: https://relay.example.org (http:// only for a relay on this
        /// computer, such as http://127.0.0.1:7878).
        #[arg(long, value_name = "URL")]
        relay: String,
        /// The team-creation token the relay's operator gave you, if the relay asks for one
        /// [default: $HOLDFAST_CREATION_TOKEN].
        #[arg(long, value_name = "TOKEN")]
        creation_token: Option<String>,
        /// For a relay with a certificate authority of its own: that CA's certificate (PEM).
        /// This device, and every device invited to the team, trusts the relay through that
        /// CA alone. The relay must send the CA certificate in its chain.
        #[arg(long, value_name = "FILE", conflicts_with = "relay_pin")]
        relay_ca: Option<PathBuf>,
        /// The same as --relay-ca, given as the CA certificate's SHA-256 fingerprint (what
        /// `openssl x509 -in ca.pem -noout -fingerprint -sha256` prints).
        #[arg(long, value_name = "SHA256")]
        relay_pin: Option<String>,
    },
    /// The teams this device belongs to, with its role in each.
    List,
}

/// `holdfast invite …`
#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Make a one-time invite code for a colleague's device (admins; a link worker can
    /// invite only a second device of their own, as link worker). For a patient's own
    /// device, use `holdfast plan share`.
    Create {
        /// What the new device may do: admin, supervisor or link-worker.
        #[arg(long, value_parser = staff_role)]
        role: Role,
        /// The team (id, or its first 6+ characters) [default: this device's current team].
        #[arg(long, value_name = "ID")]
        team: Option<String>,
        /// How long the code can be redeemed, in minutes.
        #[arg(long, value_name = "MINUTES", default_value_t = 15, value_parser = valid_for())]
        valid_for: u64,
    },
    /// Join a team with an invite code. Without CODE it is read from HOLDFAST_INVITE or, failing
    /// that, from standard input (so it stays out of your shell history).
    Redeem {
        /// The invite code ("HF1-…").
        #[arg(env = "HOLDFAST_INVITE", hide_env_values = true)]
        code: Option<String>,
    },
    /// The team's invites: pending, redeemed (by which device), cancelled or expired.
    List {
        /// The team (id, or its first 6+ characters) [default: this device's current team].
        #[arg(long, value_name = "ID")]
        team: Option<String>,
    },
    /// Withdraw a pending invite (shown to the wrong person, or no longer wanted): the relay
    /// refuses it from now on and deletes the keys left for it. Its maker or an admin.
    Cancel {
        /// The invite (id, or its first 6+ characters; see `holdfast invite list`). Its code
        /// works too, but an id keeps the code out of your shell history.
        invite: String,
        /// The team (id, or its first 6+ characters) [default: this device's current team].
        #[arg(long, value_name = "ID")]
        team: Option<String>,
    },
}

/// The roles `invite create` hands out (a patient's invite is `plan share`).
fn staff_role(s: &str) -> Result<Role, String> {
    let name = s.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    match Role::from_name(&name) {
        Some(Role::Patient) => Err(
            "a patient's device is invited to their own plan: use `holdfast plan share CASE`"
                .to_owned(),
        ),
        Some(role) => Ok(role),
        None => Err("expected admin, supervisor or link-worker".to_owned()),
    }
}

/// `--valid-for`: 1 minute to 7 days.
fn valid_for() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=7 * 24 * 60)
}

/// `holdfast device …`
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// This device's id, and its role in each of its teams.
    Show,
    /// The devices of a team: role, who added them and when, and any revoked.
    List {
        /// The team (id, or its first 6+ characters) [default: this device's current team].
        #[arg(long, value_name = "ID")]
        team: Option<String>,
    },
    /// Revoke a device (a lost phone, a colleague who left): the relay refuses it from now on
    /// and the team's records move to new keys it never gets. Admins; a link worker can
    /// revoke a patient's device (stop sharing a plan).
    Revoke {
        /// The device (id, or its first 6+ characters; see `holdfast device list`).
        device: String,
        /// The team (id, or its first 6+ characters) [default: this device's current team].
        #[arg(long, value_name = "ID")]
        team: Option<String>,
    },
}

/// `holdfast sync`
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this team (id, or its first 6+ characters) [default: every team].
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// Keep following the team live, printing a line per pull, until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS", requires = "watch")]
    pub for_seconds: Option<u64>,
}

/// `holdfast serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port on 127.0.0.1 to listen on [default: any free port].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Stop after this many seconds (tests, demos) [default: until Ctrl-C].
    #[arg(long = "for", value_name = "SECONDS")]
    pub for_seconds: Option<u64>,
    /// Do not sync with the relay: show what this device holds.
    #[arg(long)]
    pub offline: bool,
}

const SERVE_AFTER_HELP: &str = "The desk listens on 127.0.0.1 only and prints a link with a \
one-time token: open it in a browser on this computer. The first page it opens sets a cookie \
for that browser; the link then stops working, so nobody else who sees it can use it. Start \
`holdfast serve` again for a new link.";

/// `holdfast demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many made-up patients the first link worker starts with.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub patients: u32,
    /// How many made-up community assets in the directory.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=20000))]
    pub assets: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let mut all = vec!["holdfast"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|c| c.command)
    }

    #[test]
    fn invites_name_a_staff_role_and_a_lifetime() {
        for (typed, role) in [
            ("admin", Role::Admin),
            ("supervisor", Role::Supervisor),
            ("link-worker", Role::LinkWorker),
            ("link_worker", Role::LinkWorker),
            ("Link Worker", Role::LinkWorker),
        ] {
            match parse(&["invite", "create", "--role", typed]).unwrap() {
                Command::Invite(InviteCommand::Create {
                    role: r,
                    team: None,
                    valid_for: 15,
                }) => assert_eq!(r, role, "{typed}"),
                other => panic!("{typed}: {other:?}"),
            }
        }
        let patient = parse(&["invite", "create", "--role", "patient"]).unwrap_err();
        assert!(patient.to_string().contains("plan share"), "{patient}");
        assert!(parse(&["invite", "create", "--role", "member"]).is_err());
        assert!(parse(&["invite", "create"]).is_err(), "--role is required");
        match parse(&[
            "invite",
            "create",
            "--role",
            "admin",
            "--team",
            "abcdef",
            "--valid-for",
            "60",
        ])
        .unwrap()
        {
            Command::Invite(InviteCommand::Create {
                team, valid_for, ..
            }) => assert_eq!((team.as_deref(), valid_for), (Some("abcdef"), 60)),
            other => panic!("{other:?}"),
        }
        for bad in ["0", "10081", "soon"] {
            assert!(
                parse(&["invite", "create", "--role", "admin", "--valid-for", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_code_to_redeem_may_come_later() {
        match parse(&["invite", "redeem", "HF1-abc"]).unwrap() {
            Command::Invite(InviteCommand::Redeem { code }) => {
                assert_eq!(code.as_deref(), Some("HF1-abc"));
            }
            other => panic!("{other:?}"),
        }
        // Without CODE: HOLDFAST_INVITE or stdin (read when the command runs).
        assert!(matches!(
            parse(&["invite", "redeem"]).unwrap(),
            Command::Invite(InviteCommand::Redeem { .. })
        ));
    }

    #[test]
    fn a_directory_is_shared_with_a_team_and_a_caseload_narrowed_to_one() {
        match parse(&["directory", "share", "9ab3c4", "--team", "abcdef"]).unwrap() {
            Command::Directory(DirectoryCommand::Share { directory, team }) => {
                assert_eq!((directory.as_str(), team.as_str()), ("9ab3c4", "abcdef"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["directory", "share", "9ab3c4"]).is_err(),
            "--team is required"
        );
        match parse(&["caseload", "--team", "abcdef"]).unwrap() {
            Command::Caseload(a) => assert_eq!(a.team.as_deref(), Some("abcdef")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plans_are_shared_and_devices_listed_and_revoked() {
        match parse(&["plan", "share", "3fa2c1"]).unwrap() {
            Command::Plan(PlanCommand::Share { plan, valid_for }) => {
                assert_eq!((plan.as_str(), valid_for), ("3fa2c1", 15));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["device", "list", "--team", "abcdef"]).unwrap(),
            Command::Device(DeviceCommand::List { team: Some(_) })
        ));
        match parse(&["device", "revoke", "0011aa"]).unwrap() {
            Command::Device(DeviceCommand::Revoke { device, team: None }) => {
                assert_eq!(device, "0011aa");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["device", "revoke"]).is_err());
    }

    #[test]
    fn oversight_commands_parse_with_the_cores_defaults() {
        match parse(&[
            "case", "assign", "3fa2c1", "me", "--name", "Sam", "--reason", "leave",
        ])
        .unwrap()
        {
            Command::Case(CaseCommand::Assign {
                case,
                worker,
                name,
                reason,
            }) => assert_eq!(
                (case.as_str(), worker.as_str(), name, reason),
                ("3fa2c1", "me", Some("Sam".into()), Some("leave".into()))
            ),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["case", "assign", "3fa2c1"]).is_err(), "WORKER");
        match parse(&["supervision", "load"]).unwrap() {
            Command::Supervision(SupervisionCommand::Load(a)) => {
                assert!(!a.any(), "the team's limits unless given");
                let base = LoadLimits::default();
                assert_eq!(a.over(base), base);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["supervision", "queue"]).unwrap(),
            Command::Supervision(SupervisionCommand::Queue { limit: 50 })
        ));
        assert!(parse(&["supervision", "queue", "--limit", "0"]).is_err());
        match parse(&["worklist", "--on", "2026-12-04"]).unwrap() {
            Command::Worklist(a) => {
                assert_eq!(a.on, Some(time::macros::date!(2026 - 12 - 04)));
                assert_eq!(a.first_contact_days, None, "the team's");
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["worklist", "--on", "04/12/2026"]).is_err());
        assert!(
            parse(&["ring-back", "add", "3fa2c1", "--note", "x"]).is_err(),
            "--due is required"
        );
        assert!(matches!(
            parse(&["ring-back", "done", "3fa2c1", "0011aabb"]).unwrap(),
            Command::RingBack(RingBackCommand::Done { .. })
        ));
        assert!(matches!(
            parse(&["supervision", "ack", "3fa2c1", "0011aabb"]).unwrap(),
            Command::Supervision(SupervisionCommand::Ack { .. })
        ));
    }

    #[test]
    fn the_team_secret_commands_are_gone() {
        for gone in [
            &[
                "team", "join", "--relay", "http://x", "--team", "a", "--secret", "b",
            ][..],
            &["team", "secret"],
            &["team", "add-device", "a", "b"],
        ] {
            assert!(parse(gone).is_err(), "{gone:?}");
        }
        assert!(matches!(
            parse(&["team", "create", "--relay", "http://relay.example:7878"]).unwrap(),
            Command::Team(TeamCommand::Create { .. })
        ));
    }

    #[test]
    fn a_relay_is_pinned_by_its_ca_file_or_its_fingerprint_and_not_both() {
        assert!(matches!(
            parse(&[
                "team",
                "create",
                "--relay",
                "https://r",
                "--relay-ca",
                "ca.pem"
            ])
            .unwrap(),
            Command::Team(TeamCommand::Create {
                relay_ca: Some(_),
                relay_pin: None,
                ..
            })
        ));
        assert!(matches!(
            parse(&[
                "team",
                "create",
                "--relay",
                "https://r",
                "--relay-pin",
                "ab"
            ])
            .unwrap(),
            Command::Team(TeamCommand::Create {
                relay_ca: None,
                relay_pin: Some(_),
                ..
            })
        ));
        assert!(
            parse(&[
                "team",
                "create",
                "--relay",
                "https://r",
                "--relay-ca",
                "c",
                "--relay-pin",
                "ab"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from(["holdfast", "sync", "--insecure-http-to-any-host"]);
        assert!(cli.unwrap().insecure_http_to_any_host);
    }
}
