//! The action plan: what matters, goals, steps, comments.

use std::fmt::Write as _;

use holdfast_core::Store;
use holdfast_core::model::action_plan::{
    ActionPlan, AssetRef, ConnectionStatus, GoalStatus, NewStep, StepOwner,
};
use holdfast_core::model::ids::{CommentId, ConnectionEventId, DocumentId, GoalId, StepId};
use serde::Serialize;
use time::Date;

use super::Ctx;
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
    let mut t = format!("Action plan {plan_id}\n\nWhat matters to me\n");
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
        let _ = write!(line, ", asset {}:{}", short(&a.directory), a.asset);
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
