//! The plan played out: the operator and the cluster a second at a time on the virtual clock,
//! cutover's own deployer run as its Job's process would run it, until the rollout is over.

use serde_json::{Value, json};

use super::Extremes;
use super::narrate::{self, Ending, Step};
use crate::sim::{HookRun, SimJob, World};
use crate::strategy::Phase;
use crate::strategy::deployer::plan::Outcome as DeployOutcome;
use crate::strategy::describe::{Said, Voice, describe};

/// What the plan saw, second by second.
pub(super) struct Run {
    pub steps: Vec<Step>,
    pub extremes: Option<Extremes>,
    /// How the rollout ended, and at which second.
    pub ended: Option<(Phase, i64)>,
    /// A deployer Job that runs a program of the user's (its manifest), and the second it took
    /// the rollout over.
    pub handed_over: Option<(String, Value, i64)>,
    /// Seconds in a row in which nothing was said and the cluster stood still.
    quiet: i64,
}

impl Run {
    /// Plays out over `world` the rollout of a version after `before`, for at most `limit`
    /// seconds.
    pub fn play(world: &mut World, before: i64, limit: i64) -> Run {
        let mut run = Run {
            steps: Vec::new(),
            extremes: None,
            ended: None,
            handed_over: None,
            quiet: 0,
        };
        for second in 0..=limit {
            if second > 0 {
                world.tick_only();
            }
            // Twice, as watch events would wake it more than once.
            world.reconcile();
            world.reconcile();
            let actions = said(world);
            let rolling_out = world.latest_version() > before;
            let phase = run.watch(world, second, rolling_out);
            run.record(world, second, actions, phase);
            if run.hand_over(world, second) || run.over(rolling_out) {
                break;
            }
        }
        run
    }

    /// The latest revision's phase; while it rolls out, the extremes it reaches and when it
    /// ends.
    fn watch(&mut self, world: &World, second: i64, rolling_out: bool) -> Option<Phase> {
        let latest = world.latest_version();
        let phase =
            (rolling_out.then(|| world.phase(latest)).flatten()).map(|p| Phase::parse(Some(&p)));
        if rolling_out && self.ended.is_none() {
            let seen = Extremes {
                fewest_available: world.available_pods_wanted(),
                // The pods not terminating at any instant of the second, whichever ReplicaSet's
                // controller acted first.
                most_pods: world
                    .running_pods()
                    .max(world.peak_running)
                    .max(world.spec_total()),
            };
            self.extremes = Some(self.extremes.map_or(seen, |e| Extremes {
                fewest_available: e.fewest_available.min(seen.fewest_available),
                most_pods: e.most_pods.max(seen.most_pods),
            }));
            if let Some(p) = phase.filter(|p| p.is_terminal()) {
                self.ended = Some((p, second));
            }
        }
        phase
    }

    /// A step for a second in which the operator acted; otherwise a quiet second, if the
    /// cluster stands still.
    fn record(&mut self, world: &World, second: i64, actions: Vec<String>, phase: Option<Phase>) {
        if !actions.is_empty() {
            self.quiet = 0;
            let ended = phase.is_some_and(|p| p.is_terminal());
            self.steps.push(Step::at(world, second, actions, ended));
        } else if cluster_at_rest(world) {
            self.quiet += 1;
        }
    }

    /// A deployer that runs the user's program: its steps are not the planner's to tell.
    fn hand_over(&mut self, world: &World, second: i64) -> bool {
        if self.ended.is_none() && self.handed_over.is_none() {
            self.handed_over = (world.jobs.iter())
                .find(|j| j.run == HookRun::Manual && !runs_cutover_deploy(j))
                .map(|j| (j.name(), j.manifest.clone(), second));
        }
        self.handed_over.is_some()
    }

    /// Over once the rollout ended (or none started) and the cluster stands still.
    fn over(&self, rolling_out: bool) -> bool {
        match self.ended {
            Some(_) => self.quiet >= 3,
            None => !rolling_out && self.quiet >= 10,
        }
    }

    /// How the rollout ended, if a deployer of the user's took it over.
    pub fn handed_over_ending(&self) -> Option<Ending> {
        let (job, manifest, second) = self.handed_over.as_ref()?;
        Some(narrate::handed_over(job, manifest, *second))
    }
}

/// What this second said: the operator's passes, the deployers it ran, the warnings recorded.
fn said(world: &mut World) -> Vec<String> {
    let mut said = narrate::decisions(world);
    said.extend(run_deployers(world));
    said.extend(narrate::warnings(world));
    narrate::merge_scales(said)
}

/// Every ReplicaSet has the pods it asks for, and its controller has seen its latest spec.
pub(super) fn cluster_at_rest(world: &World) -> bool {
    world
        .rss
        .iter()
        .all(|r| r.pods.len() as i32 == r.spec && r.observed_generation == r.generation)
}

/// Runs cutover's own deployer for the deployer Jobs that run it (`cutover deploy`, the
/// default deployer image), one pass a second from the second after the Job's creation, as its
/// process would; ends the Job when it exits. A user's deployer image is not simulated: its
/// Job runs until the deadline.
fn run_deployers(world: &mut World) -> Vec<Said> {
    let own: Vec<(String, String)> = world
        .jobs
        .iter()
        .filter(|j| j.run == HookRun::Manual && j.created < world.now && runs_cutover_deploy(j))
        .map(|j| (j.name(), j.revision()))
        .collect();
    let mut said = Vec::new();
    for (job, revision) in own {
        let decision = world.deploy_pass(&revision, None);
        said.extend((decision.actions.iter()).flat_map(|a| describe(a, Voice::Plan)));
        let success = match decision.outcome {
            DeployOutcome::Continue(_) => continue,
            DeployOutcome::Done | DeployOutcome::Stopped(_) => true,
            DeployOutcome::Failed(why) => {
                said.push(Said::Line(format!("the deployer {job} fails: {why}")));
                false
            }
        };
        world.end_job(&job, success);
    }
    said
}

fn runs_cutover_deploy(job: &SimJob) -> bool {
    let container = &job.manifest["spec"]["template"]["spec"]["containers"][0];
    container["command"].is_null() && container["args"] == json!(["deploy"])
}
