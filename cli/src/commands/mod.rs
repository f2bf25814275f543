//! One function per command; each opens the store, does one thing, and returns what to print.

mod case;
mod case_view;
mod demo;
mod directory;
mod export;
mod feedback;
mod invite;
mod measure;
mod notes;
pub(crate) mod oversight;
mod plan;
mod report;
mod store;
mod sync;
mod team;
mod worklist;

use crate::args::DocumentCommand;
use crate::args::{
    CaseCommand, Cli, Command, DeviceCommand, DirectoryCommand, FeedbackCommand, GoalCommand,
    InviteCommand, MeasureCommand, NotesCommand, PatientCommand, PlanCommand, ReferralCommand,
    RingBackCommand, SafeguardingCommand, SessionCommand, StatusArgs, StatusCommand, StepCommand,
    SupervisionCommand, TeamCommand,
};
use crate::clock::Clock;
use crate::device::Device;
use crate::error::Result;
use crate::output::Output;

/// What every command needs.
#[derive(Debug)]
pub struct Ctx {
    /// The store and its key.
    pub device: Device,
    /// Local time.
    pub clock: Clock,
    /// `--json`: commands that print as they go (`sync --watch`) print JSON lines.
    pub json: bool,
    /// `--insecure-http-to-any-host`: plain http:// to a relay on any host (development).
    pub insecure_http: bool,
}

impl Ctx {
    /// The store, opened and shared with a sync client set up as the command line asks.
    pub fn session(&self) -> Result<crate::net::Session> {
        crate::net::Session::new(self.device.open()?, self.insecure_http)
    }
}

/// Runs the command the person typed.
pub fn run(cli: Cli, clock: Clock) -> Result<Output> {
    let ctx = Ctx {
        device: Device::new(cli.home, cli.keys, clock.source()),
        clock,
        json: cli.json,
        insecure_http: cli.insecure_http_to_any_host,
    };
    if ctx.insecure_http {
        // Loud, whatever the logging: this is not for real records.
        eprintln!(
            "holdfast: WARNING: --insecure-http-to-any-host: plain http:// to a relay on \
             another host sends this device's sign-in tokens in clear text. Development \
             networks only, never with real records."
        );
    }
    match cli.command {
        Command::Init { name } => store::init(&ctx, &name),
        Command::Patient(PatientCommand::Add(a)) => case::add_patient(&ctx, a),
        Command::Referral(c) => match c {
            ReferralCommand::Add(a) => case::add_referral(&ctx, a),
            ReferralCommand::Accept { case, referral } => {
                case::decide_referral(&ctx, &case, &referral, None)
            }
            ReferralCommand::Decline {
                case,
                referral,
                reason,
                code: Some(code),
            } => case::decline_coded(&ctx, &case, &referral, code, &reason),
            ReferralCommand::Decline {
                case,
                referral,
                reason,
                code: None,
            } => case::decide_referral(&ctx, &case, &referral, Some(reason)),
        },
        Command::Status(StatusArgs {
            team,
            command: None,
        }) => sync::status(&ctx, team.as_deref()),
        Command::Status(StatusArgs {
            command: Some(c), ..
        }) => match c {
            StatusCommand::Set {
                case,
                status,
                reason,
                code,
            } => case::set_status(&ctx, &case, status, reason.as_deref(), code),
            StatusCommand::Resolve { case, status } => case::resolve_status(&ctx, &case, status),
        },
        Command::Session(c) => match c {
            SessionCommand::Record(a) => case::record_session(&ctx, a),
            SessionCommand::AmendNote {
                case,
                session,
                note,
            } => case::amend_note(&ctx, &case, &session, &note),
        },
        Command::Case(c) => match c {
            CaseCommand::Show { case } => case_view::show(&ctx, &case),
            CaseCommand::History { case } => case_view::history(&ctx, &case),
            CaseCommand::Export { case, format, out } => {
                export::case_export(&ctx, &case, format, out.as_deref())
            }
            CaseCommand::Assign {
                case,
                worker,
                name,
                reason,
            } => oversight::assign(&ctx, &case, &worker, name, reason),
        },
        Command::Caseload(a) => case_view::caseload(&ctx, a),
        Command::Worklist(a) => worklist::worklist(&ctx, a),
        Command::Report {
            from,
            to,
            format,
            out,
        } => report::report(&ctx, from, to, format, out.as_deref()),
        Command::Feedback(FeedbackCommand::Write { case, at, add, out }) => {
            feedback::write(&ctx, &case, at, add, out.as_deref())
        }
        Command::Feedback(FeedbackCommand::Sent { case, to, at, on }) => {
            feedback::sent(&ctx, &case, &to, at, on)
        }
        Command::Notes(c) => match c {
            NotesCommand::Add { kind, text } => notes::add(&ctx, kind, &text),
            NotesCommand::Show { worker } => notes::show(&ctx, &worker),
            NotesCommand::Respond { worker, note, text } => {
                notes::respond(&ctx, &worker, &note, &text)
            }
        },
        Command::RingBack(c) => match c {
            RingBackCommand::Add { case, due, note } => {
                worklist::add_ring_back(&ctx, &case, due, &note)
            }
            RingBackCommand::Done { case, ring_back } => {
                worklist::ring_back_done(&ctx, &case, &ring_back)
            }
        },
        Command::Plan(c) => match c {
            PlanCommand::Show { plan } => plan::show(&ctx, &plan),
            PlanCommand::Share { plan, valid_for } => invite::share_plan(&ctx, &plan, valid_for),
            PlanCommand::WhatMatters { plan, text } => plan::what_matters(&ctx, &plan, &text),
            PlanCommand::Comment { plan, text } => plan::comment(&ctx, &plan, &text),
            PlanCommand::GetBackInTouch { plan, text } => {
                plan::get_back_in_touch(&ctx, &plan, &text)
            }
            PlanCommand::Render { plan, style, out } => {
                plan::render(&ctx, &plan, style, out.as_deref())
            }
            PlanCommand::Refresh { plan } => plan::refresh(&ctx, &plan),
            PlanCommand::AboutMe { text, plan } => {
                plan::about_me(&ctx, text.as_deref(), plan.as_deref())
            }
        },
        Command::Goal(c) => match c {
            GoalCommand::Add { plan, text } => plan::add_goal(&ctx, &plan, &text),
            GoalCommand::Status { plan, goal, status } => {
                plan::goal_status(&ctx, &plan, &goal, status)
            }
        },
        Command::Step(c) => match c {
            StepCommand::Add {
                plan,
                text,
                goal,
                owner,
                due,
                asset,
            } => plan::add_step(
                &ctx,
                &plan,
                plan::StepArgs {
                    text,
                    goal,
                    owner,
                    due,
                    asset,
                },
            ),
            StepCommand::Done { plan, step, undo } => plan::step_done(&ctx, &plan, &step, !undo),
            StepCommand::Connect {
                plan,
                step,
                status,
                on,
            } => plan::connect(&ctx, &plan, &step, status, on),
        },
        Command::Measure(MeasureCommand::Record {
            instrument,
            case,
            answers,
            on,
        }) => measure::record(&ctx, instrument, &case, &answers, on),
        Command::Measure(MeasureCommand::NotCompleted {
            instrument,
            case,
            reason,
            on,
        }) => measure::not_completed(&ctx, instrument, &case, reason, on),
        Command::Safeguarding(c) => match c {
            SafeguardingCommand::Raise {
                case,
                description,
                escalate,
            } => case::raise_concern(&ctx, &case, &description, escalate),
            SafeguardingCommand::Status {
                case,
                concern,
                status,
                to,
            } => case::concern_status(&ctx, &case, &concern, status, to),
            SafeguardingCommand::Resolve {
                case,
                concern,
                status,
            } => case::resolve_concern(&ctx, &case, &concern, status),
        },
        Command::Supervision(c) => match c {
            SupervisionCommand::Comment { case, text } => {
                case::supervision_comment(&ctx, &case, &text)
            }
            SupervisionCommand::Queue { limit } => oversight::queue(&ctx, limit),
            SupervisionCommand::Review { case, comment } => oversight::review(&ctx, &case, comment),
            SupervisionCommand::Load(a) => oversight::load(&ctx, a),
            SupervisionCommand::Limits(a) => oversight::limits(&ctx, a),
            SupervisionCommand::PlanWording {
                out_of_hours,
                working_hours,
            } => plan::wording(&ctx, out_of_hours, working_hours.as_deref()),
            SupervisionCommand::Comments => oversight::comments(&ctx),
            SupervisionCommand::Ack { case, comment } => oversight::ack(&ctx, &case, &comment),
        },
        Command::Directory(c) => match c {
            DirectoryCommand::Create { area } => directory::create(&ctx, &area),
            DirectoryCommand::List => directory::list(&ctx),
            DirectoryCommand::Share { directory, team } => {
                directory::share(&ctx, &directory, &team)
            }
            DirectoryCommand::Import {
                file,
                directory: dir,
            } => directory::import(&ctx, &file, dir.as_deref()),
            DirectoryCommand::Export {
                directory: dir,
                out,
            } => directory::export(&ctx, dir.as_deref(), out.as_deref()),
            DirectoryCommand::Search(a) => directory::search(&ctx, a),
            DirectoryCommand::Show {
                directory: dir,
                asset,
            } => directory::show(&ctx, &dir, &asset),
            DirectoryCommand::Demand { directory: dir } => directory::demand(&ctx, dir.as_deref()),
        },
        Command::Team(c) => match c {
            TeamCommand::Create {
                relay,
                creation_token,
                relay_ca,
                relay_pin,
            } => team::create(
                &ctx,
                &relay,
                creation_token.as_deref(),
                relay_ca.as_deref(),
                relay_pin.as_deref(),
            ),
            TeamCommand::List => team::list(&ctx),
        },
        Command::Invite(c) => match c {
            InviteCommand::Create {
                role,
                team: id,
                valid_for,
            } => invite::create(&ctx, role, id.as_deref(), valid_for),
            InviteCommand::Redeem { code } => invite::redeem(&ctx, code),
            InviteCommand::List { team: id } => invite::list(&ctx, id.as_deref()),
            InviteCommand::Cancel { invite, team: id } => {
                invite::cancel(&ctx, &invite, id.as_deref())
            }
        },
        Command::Device(c) => match c {
            DeviceCommand::Show => team::show_device(&ctx),
            DeviceCommand::List { team: id } => team::list_devices(&ctx, id.as_deref()),
            DeviceCommand::Revoke { device, team: id } => {
                team::revoke(&ctx, &device, id.as_deref())
            }
        },
        Command::Sync(a) => sync::sync(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Serve(a) => crate::desk::serve(&ctx, a),
        Command::Document(DocumentCommand::Export { document, out }) => {
            export::document_export(&ctx, &document, &out)
        }
        Command::Export { out } => store::export(&ctx, out.as_deref()),
        Command::Seed {
            patients,
            assets,
            seed,
        } => store::seed(&ctx, patients, assets, seed),
    }
}
