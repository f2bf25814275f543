//! The action plan: what matters, goals, steps, comments.

use std::fmt::Write as _;
use std::path::Path;

use holdfast_core::Store;
use holdfast_core::model::action_plan::{
    ActionPlan, AssetRef, AssetRefresh, ConnectionStatus, GoalStatus, NewStep, StepOwner,
    WorkingHours,
};
use holdfast_core::model::ids::{CommentId, ConnectionEventId, DocumentId, GoalId, StepId};
use holdfast_core::model::plan_render::{RenderStyle, render_plan};
use holdfast_core::model::team_settings::{PlanWording, TeamPlanWording};
use serde::Serialize;
use time::Date;

use super::Ctx;
use crate::args::PlanStyle;
use crate::clock::{Clock, format_date};
use crate::error::{CliError, Result};
use crate::lookup;
use crate::output::{Output, indent, short, words};

fn open_plan(ctx: &Ctx, typed: &str) -> Result<(Store, DocumentId)> {
    let mut store = ctx.device.open()?;
    let id = lookup::plan(&mut store, typed)?;
    Ok((store, id))
}

#[derive(Serialize)]
struct PlanView<'a> {
    plan_id: DocumentId,
    plan: &'a ActionPlan,
}

pub(super) fn show(ctx: &Ctx, typed: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let plan = store.action_plan(plan_id)?;
    let text = plan_text(&ctx.clock, plan_id, &plan);
    Output::new(
        &PlanView {
            plan_id,
            plan: &plan,
        },
        text,
    )
}

fn plan_text(clock: &Clock, plan_id: DocumentId, plan: &ActionPlan) -> String {
    let p = short(&plan_id);
    let mut t = format!("Action plan {plan_id}\n");
    if let Some(ended) = &plan.ended {
        let _ = writeln!(
            t,
            "\nThis plan has ended — how to come back (since {})\n{}",
            format_date(ended.on),
            indent(&ended.how_to_come_back, 2)
        );
    }
    t.push_str("\nWhat matters to me\n");
    if plan.what_matters.trim().is_empty() {
        let _ = writeln!(
            t,
            "  (not written yet: holdfast plan what-matters {p} \"...\")"
        );
    } else {
        let _ = writeln!(t, "{}", indent(&plan.what_matters, 2));
    }

    t.push('\n');
    if plan.goals.is_empty() {
        let _ = writeln!(t, "Goals: none yet (holdfast goal add {p} \"...\")");
    } else {
        t.push_str("Goals\n");
    }
    for g in &plan.goals {
        let _ = writeln!(
            t,
            "  [{}] {} ({})",
            short(&g.id),
            g.text,
            words(g.status.as_str())
        );
        for s in plan.steps.iter().filter(|s| s.goal == Some(g.id)) {
            t.push_str(&step_line(s, 6));
        }
    }
    let loose: Vec<_> = plan
        .steps
        .iter()
        .filter(|s| s.goal.is_none_or(|g| !plan.goals.iter().any(|x| x.id == g)))
        .collect();
    if !loose.is_empty() {
        t.push_str("\nOther steps\n");
        for s in loose {
            t.push_str(&step_line(s, 2));
        }
    }

    if !plan.get_back_in_touch.trim().is_empty() {
        let _ = write!(
            t,
            "\nHow to get back in touch\n{}\n",
            indent(&plan.get_back_in_touch, 2)
        );
    }
    if !plan.about_link_worker.trim().is_empty() {
        let _ = write!(
            t,
            "\nAbout your link worker\n{}\n",
            indent(&plan.about_link_worker, 2)
        );
    }
    if let Some(hours) = &plan.working_hours {
        let _ = writeln!(t, "\nWorking hours: {}", hours.describe());
    }
    if !plan.out_of_hours.trim().is_empty() {
        let _ = write!(t, "\nOut of hours\n{}\n", indent(&plan.out_of_hours, 2));
    }
    if !plan.comments.is_empty() {
        t.push_str("\nComments\n");
        for c in &plan.comments {
            let _ = writeln!(t, "  {}  {}:", clock.day_time(c.at), c.by);
            let _ = writeln!(t, "{}", indent(&c.text, 4));
        }
    }
    t
}

fn step_line(s: &holdfast_core::model::action_plan::Step, pad: usize) -> String {
    let mut line = format!(
        "{}[{}] {} — {}",
        if s.done { "✓ " } else { "☐ " },
        short(&s.id),
        s.text,
        match s.owner {
            StepOwner::Patient => "patient",
            StepOwner::LinkWorker => "link worker",
        }
    );
    if let Some(d) = s.due {
        let _ = write!(line, ", by {}", format_date(d));
    }
    if let Some(a) = s.asset {
        match &s.asset_details {
            Some(d) => {
                let _ = write!(
                    line,
                    ", at {} ({}:{})",
                    d.name,
                    short(&a.directory),
                    a.asset
                );
            }
            None => {
                let _ = write!(line, ", asset {}:{}", short(&a.directory), a.asset);
            }
        }
    }
    if let Some(c) = s.connection_status() {
        let _ = write!(
            line,
            " ({} since {})",
            words(c.status.as_str()),
            format_date(c.on)
        );
    }
    format!("{}{line}\n", " ".repeat(pad))
}

#[derive(Serialize)]
struct PlanChanged {
    plan_id: DocumentId,
}

pub(super) fn what_matters(ctx: &Ctx, typed: &str, text: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    store.set_what_matters(plan_id, text)?;
    Output::new(&PlanChanged { plan_id }, "\"What matters to me\" updated.")
}

pub(super) fn get_back_in_touch(ctx: &Ctx, typed: &str, text: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    store.set_get_back_in_touch(plan_id, text)?;
    Output::new(
        &PlanChanged { plan_id },
        "\"How to get back in touch\" updated.",
    )
}

#[derive(Serialize)]
struct CommentAdded {
    plan_id: DocumentId,
    comment_id: CommentId,
}

pub(super) fn comment(ctx: &Ctx, typed: &str, text: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let comment_id = store.add_plan_comment(plan_id, text)?;
    Output::new(
        &CommentAdded {
            plan_id,
            comment_id,
        },
        "Comment added to the action plan.",
    )
}

#[derive(Serialize)]
struct GoalNow {
    plan_id: DocumentId,
    goal_id: GoalId,
    status: GoalStatus,
}

pub(super) fn add_goal(ctx: &Ctx, typed: &str, text: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let goal_id = store.add_goal(plan_id, text)?;
    let msg = format!(
        "Goal added.\n  goal id  {goal_id}\nAdd a step towards it with\n  holdfast step add {} \"...\" --goal {}",
        short(&plan_id),
        short(&goal_id)
    );
    Output::new(
        &GoalNow {
            plan_id,
            goal_id,
            status: GoalStatus::NotStarted,
        },
        msg,
    )
}

pub(super) fn goal_status(
    ctx: &Ctx,
    typed: &str,
    goal: &str,
    status: GoalStatus,
) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let plan = store.action_plan(plan_id)?;
    let goal_id = lookup::pick("goal", goal, plan.goals.iter().map(|g| g.id))?;
    store.set_goal_status(plan_id, goal_id, status)?;
    Output::new(
        &GoalNow {
            plan_id,
            goal_id,
            status,
        },
        format!("The goal is now {}.", words(status.as_str())),
    )
}

/// What `step add` was given.
#[derive(Debug)]
pub(super) struct StepArgs {
    pub text: String,
    pub goal: Option<String>,
    pub owner: StepOwner,
    pub due: Option<Date>,
    pub asset: Option<String>,
}

#[derive(Serialize)]
struct StepNow {
    plan_id: DocumentId,
    step_id: StepId,
    done: bool,
}

pub(super) fn add_step(ctx: &Ctx, typed: &str, a: StepArgs) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let goal = match &a.goal {
        Some(g) => {
            let plan = store.action_plan(plan_id)?;
            Some(lookup::pick("goal", g, plan.goals.iter().map(|g| g.id))?)
        }
        None => None,
    };
    let asset = match &a.asset {
        Some(typed) => {
            let (dir, asset) = typed.split_once(':').ok_or_else(|| {
                CliError::input(
                    "--asset: expected DIRECTORY:ASSET, as shown by `holdfast directory search`",
                )
            })?;
            let directory = lookup::directory(&store, dir)?;
            let asset = lookup::asset(asset)?;
            // Refuse a reference to an asset that is not there.
            store.asset(directory, asset)?;
            Some(AssetRef { directory, asset })
        }
        None => None,
    };
    let step_id = store.add_step(
        plan_id,
        &NewStep {
            goal,
            text: a.text,
            owner: a.owner,
            due: a.due,
            asset,
        },
    )?;
    let msg = format!(
        "Step added.\n  step id  {step_id}\nTick it off with\n  holdfast step done {} {}",
        short(&plan_id),
        short(&step_id)
    );
    Output::new(
        &StepNow {
            plan_id,
            step_id,
            done: false,
        },
        msg,
    )
}

#[derive(Serialize)]
struct Connected {
    plan_id: DocumentId,
    step_id: StepId,
    event_id: ConnectionEventId,
    status: ConnectionStatus,
    on: Date,
}

/// `holdfast step connect`: where the step's connection to its asset stands from a day.
pub(super) fn connect(
    ctx: &Ctx,
    typed: &str,
    step: &str,
    status: ConnectionStatus,
    on: Option<Date>,
) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let plan = store.action_plan(plan_id)?;
    let step_id = lookup::pick("step", step, plan.steps.iter().map(|s| s.id))?;
    let event_id = store.record_connection(plan_id, step_id, status, on)?;
    let on = on.unwrap_or_else(|| store.today());
    let text = format!(
        "Connection recorded: {} since {}.",
        words(status.as_str()),
        format_date(on)
    );
    Output::new(
        &Connected {
            plan_id,
            step_id,
            event_id,
            status,
            on,
        },
        text,
    )
}

pub(super) fn step_done(ctx: &Ctx, typed: &str, step: &str, done: bool) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let plan = store.action_plan(plan_id)?;
    let step_id = lookup::pick("step", step, plan.steps.iter().map(|s| s.id))?;
    store.set_step_done(plan_id, step_id, done)?;
    Output::new(
        &StepNow {
            plan_id,
            step_id,
            done,
        },
        if done {
            "Step done."
        } else {
            "Step marked as not done."
        },
    )
}

#[derive(Serialize)]
struct Rendered<'a> {
    plan_id: DocumentId,
    style: RenderStyle,
    text: &'a str,
    saved_to: Option<String>,
}

/// `holdfast plan render`: the plan as the patient reads it, without ids.
pub(super) fn render(
    ctx: &Ctx,
    typed: &str,
    style: PlanStyle,
    out: Option<&Path>,
) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let plan = store.action_plan(plan_id)?;
    let style = match style {
        PlanStyle::LargePrint => RenderStyle::LargePrint,
        PlanStyle::PlainText => RenderStyle::PlainText,
    };
    let rendered = render_plan(&plan, style, store.today());
    let (saved_to, text) = match out {
        Some(path) => {
            std::fs::write(path, &rendered)
                .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))?;
            (
                Some(path.display().to_string()),
                format!(
                    "The plan is in {} ({} lines).",
                    path.display(),
                    rendered.lines().count()
                ),
            )
        }
        None => (None, rendered.trim_end().to_owned()),
    };
    Output::new(
        &Rendered {
            plan_id,
            style,
            text: &rendered,
            saved_to,
        },
        text,
    )
}

#[derive(Serialize)]
struct Refreshed {
    plan_id: DocumentId,
    assets: AssetRefresh,
}

/// `holdfast plan refresh`: the listings, "about me" and the team's wording copied in again.
pub(super) fn refresh(ctx: &Ctx, typed: &str) -> Result<Output> {
    let (mut store, plan_id) = open_plan(ctx, typed)?;
    let assets = store.refresh_plan_assets(plan_id)?;
    store.refresh_plan_contact(plan_id)?;
    let mut text = format!(
        "Plan refreshed: {} linked step{} updated, {} already up to date.",
        assets.updated,
        if assets.updated == 1 { "" } else { "s" },
        assets.unchanged
    );
    if assets.missing > 0 {
        let _ = write!(
            text,
            "\n{} step{} link{} an asset whose directory is not on this device: kept as copied.",
            assets.missing,
            if assets.missing == 1 { "" } else { "s" },
            if assets.missing == 1 { "s" } else { "" }
        );
    }
    text.push_str("\nAbout you, working hours and out-of-hours wording are up to date.");
    Output::new(&Refreshed { plan_id, assets }, text)
}

#[derive(Serialize)]
struct AboutMe {
    about_link_worker: Option<String>,
    copied_to: Option<DocumentId>,
}

/// `holdfast plan about-me`: shows or sets this device's "about your link worker" text.
pub(super) fn about_me(ctx: &Ctx, text: Option<&str>, plan: Option<&str>) -> Result<Output> {
    let mut store = ctx.device.open()?;
    // The plan is found before anything is set: a typo changes nothing.
    let plan_id = plan.map(|p| lookup::plan(&mut store, p)).transpose()?;
    if let Some(text) = text {
        store.set_about_link_worker(text)?;
    }
    if let Some(plan_id) = plan_id {
        store.refresh_plan_contact(plan_id)?;
    }
    let about = store.about_link_worker()?;
    let mut out = match (&about, text.is_some()) {
        (Some(a), true) => format!("\"About your link worker\" set:\n{}", indent(a, 2)),
        (None, true) => "\"About your link worker\" cleared.".to_owned(),
        (Some(a), false) => format!("About your link worker:\n{}", indent(a, 2)),
        (None, false) => "No \"about your link worker\" text yet: holdfast plan about-me \"I'm \
                          Sam, your link worker at ...\""
            .to_owned(),
    };
    match plan_id {
        Some(p) => {
            let _ = write!(out, "\nCopied into plan {}.", short(&p));
        }
        None if text.is_some() => out.push_str(
            "\nNew plans carry it; copy it into an existing plan with holdfast plan refresh CASE.",
        ),
        None => {}
    }
    Output::new(
        &AboutMe {
            about_link_worker: about,
            copied_to: plan_id,
        },
        out,
    )
}

/// `holdfast supervision plan-wording`: shows or sets the team's plan wording.
pub(super) fn wording(
    ctx: &Ctx,
    out_of_hours: Option<String>,
    working_hours: Option<&str>,
) -> Result<Output> {
    let mut store = ctx.device.open()?;
    let setting = out_of_hours.is_some() || working_hours.is_some();
    if setting {
        let current = store.team_plan_wording()?.wording;
        let hours = working_hours
            .map(str::parse::<WorkingHours>)
            .transpose()?
            .unwrap_or(current.working_hours);
        store.set_team_plan_wording(&PlanWording {
            out_of_hours: out_of_hours.unwrap_or(current.out_of_hours),
            working_hours: hours,
        })?;
    }
    let team: TeamPlanWording = store.team_plan_wording()?;
    let w = &team.wording;
    let mut text = format!(
        "{}\n  Working hours  {} ({})\n  Out of hours\n{}\n",
        if setting {
            "The team's plan wording is now:"
        } else {
            "The team's plan wording:"
        },
        w.working_hours.describe(),
        w.working_hours,
        indent(&w.out_of_hours, 4)
    );
    match &team.set {
        Some(s) => {
            let _ = write!(
                text,
                "Set by {} (device {}) on {}. Plans take it up when created or refreshed \
                 (holdfast plan refresh CASE).",
                s.by,
                short(&s.by_device),
                ctx.clock.day_time(s.at)
            );
        }
        None => text.push_str(
            "Nobody in the team has set it: these are the defaults. A supervisor or admin sets \
             it with: holdfast supervision plan-wording --out-of-hours TEXT --working-hours \
             \"Mon-Fri 09:00-17:00\"",
        ),
    }
    Output::new(&team, text)
}
