//! The central executive: goals (with sub-goals, priorities, progress and status) and the focus
//! of attention.

use crate::db::{fetch_rows, on_pool, Database, PoolExt};
use crate::enum_str::string_enum;
use crate::error::{check_text, Entity, Error, Result};
use crate::ids::ProjectId;
use crate::time::{now_ms, Millis};

string_enum! {
    /// Kinds of goal.
    pub enum GoalType as "goal_type" {
        /// A top-level aim.
        Primary => "primary",
        /// A step towards a parent goal.
        Subgoal => "subgoal",
        /// Something to keep true (e.g. "tests stay green").
        Maintenance => "maintenance",
    }
}

string_enum! {
    /// Where a goal stands.
    pub enum GoalStatus as "status" {
        /// Being pursued.
        Active => "active",
        /// Put aside; `resume` makes it active again.
        Suspended => "suspended",
        /// Done.
        Completed => "completed",
    }
}

string_enum! {
    /// What attention can be focused on.
    pub enum FocusTarget as "target" {
        /// A goal.
        Goal => "goal",
        /// A working-memory item.
        Item => "item",
    }
}

/// A goal.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Goal {
    /// Id.
    pub id: i64,
    /// Owning project.
    pub project_id: ProjectId,
    /// Parent goal, for sub-goals.
    pub parent_id: Option<i64>,
    /// What the goal is.
    pub text: String,
    /// Primary, sub-goal or maintenance.
    pub goal_type: GoalType,
    /// 1 (lowest) to 10 (highest).
    pub priority: i64,
    /// Active, suspended or completed.
    pub status: GoalStatus,
    /// 0..=1.
    pub progress: f64,
    /// Deadline (UTC Unix ms).
    pub deadline: Option<Millis>,
    /// How to tell it is done.
    pub completion_criteria: Option<String>,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}

/// A goal to add; build with [`NewGoal::new`].
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct NewGoal {
    text: String,
    goal_type: GoalType,
    parent_id: Option<i64>,
    priority: i64,
    deadline: Option<Millis>,
    completion_criteria: Option<String>,
}

impl NewGoal {
    /// A primary goal of priority 5.
    pub fn new(text: impl Into<String>) -> Self {
        NewGoal {
            text: text.into(),
            goal_type: GoalType::Primary,
            parent_id: None,
            priority: 5,
            deadline: None,
            completion_criteria: None,
        }
    }

    /// A sub-goal of `parent`.
    pub fn subgoal_of(mut self, parent: i64) -> Self {
        self.parent_id = Some(parent);
        self.goal_type = GoalType::Subgoal;
        self
    }

    /// The goal type.
    pub fn goal_type(mut self, goal_type: GoalType) -> Self {
        self.goal_type = goal_type;
        self
    }

    /// Priority, 1..=10.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    /// Deadline (UTC Unix ms).
    pub fn deadline(mut self, deadline: Millis) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Completion criteria.
    pub fn completion_criteria(mut self, criteria: impl Into<String>) -> Self {
        self.completion_criteria = Some(criteria.into());
        self
    }
}

/// A goal in the hierarchy.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GoalNode {
    /// The goal.
    pub goal: Goal,
    /// 0 for a root.
    pub depth: usize,
    /// Ids from the root to this goal, inclusive.
    pub path: Vec<i64>,
}

/// Attention on a goal or item.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct Focus {
    /// Goal or item.
    pub target: FocusTarget,
    /// Its id.
    pub target_id: i64,
    /// 0..=1.
    pub weight: f64,
    /// When it was set.
    pub updated_at: Millis,
}

macro_rules! goal_columns {
    () => {
        "id, project_id, parent_id, text, goal_type, priority, status, progress, deadline, completion_criteria, created_at, updated_at"
    };
}

/// Repository of goals and attention.
#[derive(Debug, Clone)]
pub struct Goals {
    db: Database,
}

impl Goals {
    /// The repository over `db`.
    pub(crate) fn new(db: Database) -> Self {
        Goals { db }
    }

    /// Adds an active goal.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for empty text or a priority outside 1..=10; [`Error::NotFound`]
    /// for an unknown project or a parent that is not a goal of the project.
    pub async fn add(&self, project_id: ProjectId, goal: NewGoal) -> Result<Goal> {
        check_text("text", &goal.text, 10_000)?;
        if !(1..=10).contains(&goal.priority) {
            return Err(Error::invalid(
                "priority",
                format!("must be within 1..=10, got {}", goal.priority),
            ));
        }
        crate::db::projects::Projects::new(self.db.clone())
            .ensure_exists(project_id)
            .await?;
        if let Some(parent) = goal.parent_id {
            self.get(project_id, parent).await?;
        }
        let now = now_ms();
        const SQL: &str = concat!(
            "INSERT INTO goals (project_id, parent_id, text, goal_type, priority, status, progress, deadline, completion_criteria, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'active', 0, $6, $7, $8, $8) RETURNING ",
            goal_columns!()
        );
        Ok(fetch_rows!(
            self.db,
            Goal,
            SQL,
            fetch_one,
            project_id,
            goal.parent_id,
            &goal.text,
            goal.goal_type.as_str(),
            goal.priority,
            goal.deadline,
            goal.completion_criteria.as_deref(),
            now
        ))
    }

    /// Goal `id` of `project_id`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it does not exist in this project.
    pub async fn get(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        const SQL: &str = concat!(
            "SELECT ",
            goal_columns!(),
            " FROM goals WHERE project_id = $1 AND id = $2"
        );
        let row = fetch_rows!(self.db, Goal, SQL, fetch_optional, project_id, id);
        row.ok_or(Error::NotFound {
            entity: Entity::Goal,
            id,
            project_id,
        })
    }

    /// Active goals, highest priority first, then oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn active(&self, project_id: ProjectId) -> Result<Vec<Goal>> {
        const SQL: &str = concat!("SELECT ", goal_columns!(), " FROM goals WHERE project_id = $1 AND status = 'active' ORDER BY priority DESC, created_at, id");
        Ok(fetch_rows!(self.db, Goal, SQL, fetch_all, project_id))
    }

    async fn all(&self, project_id: ProjectId) -> Result<Vec<Goal>> {
        const SQL: &str = concat!(
            "SELECT ",
            goal_columns!(),
            " FROM goals WHERE project_id = $1 ORDER BY priority DESC, created_at, id"
        );
        Ok(fetch_rows!(self.db, Goal, SQL, fetch_all, project_id))
    }

    /// Sets progress, clamped to 0..=1. Reaching 1.0 completes an active goal (without
    /// cascading to its sub-goals).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for NaN; [`Error::NotFound`] for an unknown goal.
    pub async fn set_progress(
        &self,
        project_id: ProjectId,
        id: i64,
        progress: f64,
    ) -> Result<Goal> {
        if progress.is_nan() {
            return Err(Error::invalid("progress", "must be a number, got NaN"));
        }
        let progress = progress.clamp(0.0, 1.0);
        const SQL: &str = concat!(
            "UPDATE goals SET progress = $1, updated_at = $2,
                 status = CASE WHEN $1 >= 1.0 AND status = 'active' THEN 'completed' ELSE status END
             WHERE project_id = $3 AND id = $4 RETURNING ",
            goal_columns!()
        );
        let row = fetch_rows!(
            self.db,
            Goal,
            SQL,
            fetch_optional,
            progress,
            now_ms(),
            project_id,
            id
        );
        row.ok_or(Error::NotFound {
            entity: Entity::Goal,
            id,
            project_id,
        })
    }

    /// Completes a goal (progress 1) and, with `cascade`, all its descendants, in one
    /// transaction. Returns the ids completed.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown goal.
    pub async fn complete(
        &self,
        project_id: ProjectId,
        id: i64,
        cascade: bool,
    ) -> Result<Vec<i64>> {
        let goals = self.all(project_id).await?;
        if !goals.iter().any(|g| g.id == id) {
            return Err(Error::NotFound {
                entity: Entity::Goal,
                id,
                project_id,
            });
        }
        let mut ids = vec![id];
        let mut i = 0;
        while cascade && i < ids.len() {
            let parent = ids[i];
            ids.extend(
                goals
                    .iter()
                    .filter(|g| g.parent_id == Some(parent))
                    .map(|g| g.id),
            );
            i += 1;
        }
        const SQL: &str = "UPDATE goals SET status = 'completed', progress = 1.0, updated_at = $1 WHERE project_id = $2 AND id = $3";
        let now = now_ms();
        on_pool!(self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            for &goal in &ids {
                sqlx::query(SQL)
                    .bind(now)
                    .bind(project_id)
                    .bind(goal)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(ids)
    }

    /// Suspends an active goal.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown goal; [`Error::InvalidInput`] on `status` when it is not active.
    pub async fn suspend(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        self.transition(project_id, id, GoalStatus::Active, GoalStatus::Suspended)
            .await
    }

    /// Resumes a suspended goal.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown goal; [`Error::InvalidInput`] on `status` when it is not suspended.
    pub async fn resume(&self, project_id: ProjectId, id: i64) -> Result<Goal> {
        self.transition(project_id, id, GoalStatus::Suspended, GoalStatus::Active)
            .await
    }

    async fn transition(
        &self,
        project_id: ProjectId,
        id: i64,
        from: GoalStatus,
        to: GoalStatus,
    ) -> Result<Goal> {
        const SQL: &str = concat!("UPDATE goals SET status = $1, updated_at = $2 WHERE project_id = $3 AND id = $4 AND status = $5 RETURNING ", goal_columns!());
        let row = fetch_rows!(
            self.db,
            Goal,
            SQL,
            fetch_optional,
            to.as_str(),
            now_ms(),
            project_id,
            id,
            from.as_str()
        );
        match row {
            Some(goal) => Ok(goal),
            None => {
                let goal = self.get(project_id, id).await?;
                Err(Error::invalid(
                    "status",
                    format!("goal {id} is {}, not {from}", goal.status),
                ))
            }
        }
    }

    /// Every goal as a forest: roots first, each followed by its sub-goals (depth-first),
    /// siblings by priority descending then age.
    ///
    /// # Errors
    /// Database errors.
    pub async fn hierarchy(&self, project_id: ProjectId) -> Result<Vec<GoalNode>> {
        let goals = self.all(project_id).await?;
        let mut out = Vec::with_capacity(goals.len());
        let mut stack: Vec<(&Goal, Vec<i64>)> = goals
            .iter()
            .filter(|g| g.parent_id.is_none())
            .rev()
            .map(|g| (g, vec![g.id]))
            .collect();
        while let Some((goal, path)) = stack.pop() {
            for child in goals.iter().filter(|c| c.parent_id == Some(goal.id)).rev() {
                let mut p = path.clone();
                p.push(child.id);
                stack.push((child, p));
            }
            out.push(GoalNode {
                goal: goal.clone(),
                depth: path.len() - 1,
                path,
            });
        }
        Ok(out)
    }

    /// Focuses attention on a goal or item with `weight` (0..=1); focusing again replaces it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `weight`; [`Error::NotFound`] when the target is not in the project.
    pub async fn focus(
        &self,
        project_id: ProjectId,
        target: FocusTarget,
        target_id: i64,
        weight: f64,
    ) -> Result<Focus> {
        crate::error::check_unit("weight", weight)?;
        match target {
            FocusTarget::Goal => {
                self.get(project_id, target_id).await?;
            }
            FocusTarget::Item => {
                const SQL: &str =
                    "SELECT COUNT(*) FROM working_memory WHERE project_id = $1 AND id = $2";
                let n: i64 = on_pool!(self.db, |pool| sqlx::query_scalar(SQL)
                    .bind(project_id)
                    .bind(target_id)
                    .fetch_one(pool)
                    .await?);
                if n == 0 {
                    return Err(Error::NotFound {
                        entity: Entity::Item,
                        id: target_id,
                        project_id,
                    });
                }
            }
        }
        const SQL: &str = "INSERT INTO attention_focus (project_id, target, target_id, weight, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project_id, target, target_id) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at
             RETURNING target, target_id, weight, updated_at";
        Ok(fetch_rows!(
            self.db,
            Focus,
            SQL,
            fetch_one,
            project_id,
            target.as_str(),
            target_id,
            weight,
            now_ms()
        ))
    }

    /// What attention is on, heaviest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn attention(&self, project_id: ProjectId) -> Result<Vec<Focus>> {
        const SQL: &str = "SELECT target, target_id, weight, updated_at FROM attention_focus WHERE project_id = $1 ORDER BY weight DESC, target, target_id";
        Ok(fetch_rows!(self.db, Focus, SQL, fetch_all, project_id))
    }
}
