//! Domain services and the application handle: workspaces, users, API keys, login sessions,
//! the first start, the CRM, check-ins and the mail outbox. No HTTP and no SQL here: `sb-http` calls these services, and
//! they call `sb-store`.

mod access;
mod bootstrap;
mod checkins;
mod crm;
mod error;
mod events;
mod keys;
mod login_limits;
mod mail;
mod passwords;
mod queries;
mod saved_queries;
mod scoped;
mod secret;
mod sessions;
mod users;
mod webhooks;
mod workspaces;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sb_types::WorkspaceId;

pub use access::{Access, Actor, Permission};
pub use bootstrap::{FirstStart, generate_password};
pub use checkins::calendar::{CalendarDay, CheckinCalendar};
pub use checkins::{
    CheckinMember, CheckinMemberPatch, CheckinRound, CheckinSettings, CheckinSettingsPatch, Entry,
    EntryComment, EntryFilter, EntryKind, EntryPatch, NewEntries, Receipt, ReceivedVia, ReplyToken,
    entries_from_reply,
};
pub use crm::{
    AuditEntry, BoxDraft, BoxFilter, BoxLinkKind, BoxPatch, Comment, Contact, ContactDraft, ContactPatch,
    CrmBox, ExportFormat, Field, FieldDraft, IMPORT_ROWS_MAX, ImportKind, ImportReport, ImportRequest,
    ListFilter, Message, MessageDraft, Organization, OrganizationDraft, OrganizationPatch, Page, Participant,
    Pipeline, PipelineDraft, PipelinePatch, RowError, Stage, StageDraft, StageMove, Task, TaskDraft,
    TaskPatch, Thread, ThreadLink, TimelineEntry, TimelineEvent,
};
pub use error::CoreError;
pub use events::BatchOutcome;
pub use keys::{CreatedKey, KeyView};
pub use login_limits::{LoginLimits, PER_ACCOUNT as LOGIN_FAILURES_PER_ACCOUNT};
pub use mail::{MAIL_MAX_ATTEMPTS, MAIL_ROUND_INTERVAL, MailAttempt, MailRound, MailSetup, OutboxMail};
pub use queries::QueryResponse;
pub use saved_queries::{MAX_REFRESH_RATE, SavedQuery, SavedQueryDraft};
pub use sb_events::{EventContext, Rejection};
use sb_store::Store;
pub use sb_store::{BoxLinks, BoxReason, ContactLink, ImportRecord, Member, User, Workspace};
pub use secret::ServerSecret;
pub use sessions::{NewSession, SESSION_LIFETIME_SECONDS, SessionView};
pub use webhooks::{
    Delivery, MAX_ATTEMPTS as WEBHOOK_MAX_ATTEMPTS, SIGNATURE_HEADER, WEBHOOK_EVENTS, Webhook, WebhookRound,
    signature,
};
pub use workspaces::{CreatedWorkspace, WorkspaceSummary};

/// A workspace's event store, opened at most once.
type EventStoreCell = Arc<tokio::sync::OnceCell<Arc<sb_events::EventStore>>>;

/// The application handle shared by every request and command. Cheap to clone.
#[derive(Clone)]
pub struct Switchboard {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secret: ServerSecret,
    login_limits: LoginLimits,
    event_stores: Mutex<HashMap<WorkspaceId, EventStoreCell>>,
    queries: queries::QueryLimits,
    event_options: Mutex<sb_events::EventStoreOptions>,
    /// Made on first use: the client webhook deliveries are posted with.
    webhook_client: std::sync::OnceLock<reqwest::Client>,
    /// How mail goes out; until `set_mail_setup`, it waits in the outbox.
    mail: std::sync::RwLock<MailSetup>,
    /// Received mail waiting to be stored, per workspace (group commit).
    intake: checkins::intake::Intake,
}

impl Switchboard {
    /// Opens the data folder and the databases named by `config`, and loads (or on first use
    /// creates) the server secret.
    pub async fn open(config: &sb_config::Config) -> Result<Switchboard, CoreError> {
        let store = Store::open(&config.data_dir, &config.database).await?;
        let secret = ServerSecret::load_or_create(&config.secret_key_file)?;
        let switchboard = Switchboard::from_parts(store, secret);
        switchboard.set_query_timeout(std::time::Duration::from_secs(config.query_timeout));
        switchboard.set_event_store_options(sb_events::EventStoreOptions {
            tail_bytes: usize::try_from(config.events_tail_bytes).unwrap_or(usize::MAX),
            tail_age: std::time::Duration::from_secs(config.events_tail_seconds),
        });
        Ok(switchboard)
    }

    /// A handle over an already opened store.
    pub fn from_parts(store: Store, secret: ServerSecret) -> Switchboard {
        let event_stores = Mutex::default();
        Switchboard {
            inner: Arc::new(Inner {
                store,
                secret,
                login_limits: LoginLimits::default(),
                event_stores,
                queries: queries::QueryLimits::default(),
                event_options: Mutex::default(),
                webhook_client: std::sync::OnceLock::new(),
                mail: std::sync::RwLock::new(MailSetup::local("localhost", "http://127.0.0.1:8700")),
                intake: checkins::intake::Intake::default(),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The server secret, for signing tokens.
    pub fn secret(&self) -> &ServerSecret {
        &self.inner.secret
    }

    /// Which database backend is in use: "sqlite" or "postgres".
    pub fn backend_name(&self) -> &'static str {
        self.inner.store.backend().name()
    }

    /// Sets when event stores opened from now on compact their tail (for the configuration,
    /// and for tests).
    pub fn set_event_store_options(&self, options: sb_events::EventStoreOptions) {
        *self.inner.event_options.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = options;
    }

    fn event_options(&self) -> sb_events::EventStoreOptions {
        *self.inner.event_options.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_event_stores(&self) -> std::sync::MutexGuard<'_, HashMap<WorkspaceId, EventStoreCell>> {
        self.inner.event_stores.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes the event stores (their writers finish what is queued) and the databases.
    pub async fn close(&self) {
        let open: Vec<WorkspaceId> = self.lock_event_stores().keys().copied().collect();
        for workspace in open {
            self.close_event_store(workspace).await;
        }
        self.inner.store.close().await;
    }
}
