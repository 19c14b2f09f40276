//! The seeded data's shape, the same for a given size on every run: organizations with one
//! domain each, contacts with an address at their organization's domain, boxes in a sales
//! pipeline linked to an organization and one of its contacts, and email threads between a
//! contact and a workspace member in which each reply names the messages before it.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sb_core::{BoxDraft, ContactDraft, FieldDraft, OrganizationDraft, Pipeline, PipelineDraft, StageDraft};
use sb_types::{ParticipantRole, Timestamp};
use serde_json::{Map, Value, json};

const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ines", "Jonas", "Kofi", "Lena",
    "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Viktor", "Wen", "Ximena",
    "Yusuf", "Zoe",
];
const LAST_NAMES: &[&str] = &[
    "Adler",
    "Baptiste",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kaur",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urban",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
];
const ADJECTIVES: &[&str] = &[
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iron",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Northwind",
    "Orbit",
    "Pioneer",
    "Quarry",
    "Riverside",
    "Summit",
    "Tidal",
    "Umber",
    "Vertex",
    "Willow",
    "Zenith",
];
const NOUNS: &[&str] = &[
    "Analytics",
    "Bakery",
    "Clinic",
    "Dynamics",
    "Energy",
    "Foods",
    "Games",
    "Health",
    "Industries",
    "Logistics",
    "Media",
    "Networks",
    "Optics",
    "Partners",
    "Robotics",
    "Systems",
    "Textiles",
    "Ventures",
    "Works",
];
const PRODUCTS: &[&str] =
    &["annual plan", "pilot", "renewal", "expansion", "onboarding", "support contract", "migration", "audit"];
const TITLES: &[&str] =
    &["CEO", "CTO", "Head of Sales", "Buyer", "Operations", "Finance", "Engineer", "Founder"];
const SENTENCES: &[&str] = &[
    "Thanks for the call earlier today.",
    "Could you send over the updated quote?",
    "We reviewed the proposal with the team and have a few questions about the timeline.",
    "Attached is the signed order form.",
    "Let's find a slot next week to go through the details.",
    "Our finance team needs the invoice to name the purchase order.",
    "The pilot went well and we would like to extend it to two more teams.",
    "Can we move the start date to the first of the month?",
];
/// Addresses of the workspace members the threads are written with.
pub(crate) const MEMBERS: usize = 5;
/// A thread's length is 1 to this many messages (5 on average).
const THREAD_MAX: usize = 9;
/// Share of threads filed on a box of their contact's organization, in percent.
const FILED_PERCENT: u32 = 30;

fn rng(kind: u64, index: usize) -> StdRng {
    StdRng::seed_from_u64(kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index as u64)
}

fn pick<'a>(rng: &mut StdRng, words: &[&'a str]) -> &'a str {
    words.choose(rng).copied().unwrap_or_default()
}

pub(crate) fn member_email(member: usize) -> String {
    format!("member{member}@team.example")
}

pub(crate) fn pipeline() -> PipelineDraft {
    let stage = |name: &str| StageDraft { id: None, name: name.to_owned(), color: None };
    let field = |name: &str, field_type: &str, options: &[&str]| FieldDraft {
        id: None,
        name: name.to_owned(),
        field_type: field_type.to_owned(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    PipelineDraft {
        name: "Sales".into(),
        description: "Seeded by crm-bench".into(),
        stages: ["Lead", "Qualified", "Proposal", "Negotiation", "Won"].into_iter().map(stage).collect(),
        fields: vec![
            field("Amount", "number", &[]),
            field("Close date", "date", &[]),
            field("Priority", "dropdown", &["Low", "Medium", "High"]),
            field("Tags", "tags", &[]),
        ],
    }
}

fn domain(organization: usize) -> String {
    format!("org{organization}.example")
}

pub(crate) fn organization(index: usize) -> OrganizationDraft {
    let mut rng = rng(1, index);
    let name = format!("{} {} {index}", pick(&mut rng, ADJECTIVES), pick(&mut rng, NOUNS));
    let mut custom = Map::new();
    custom.insert("employees".into(), json!(rng.gen_range(2..5_000)));
    OrganizationDraft { name, domains: vec![domain(index)], custom }
}

/// The organization of contact `index`: contacts are dealt to organizations in turn.
pub(crate) fn organization_of(contact: usize, organizations: usize) -> usize {
    contact % organizations.max(1)
}

/// A contact of `organization`, chosen by `rng` among the `contacts` seeded.
fn contact_at(rng: &mut StdRng, organization: usize, organizations: usize, contacts: usize) -> Option<usize> {
    let per = contacts.saturating_sub(organization).div_ceil(organizations.max(1));
    (per > 0).then(|| organization + organizations * rng.gen_range(0..per))
}

fn contact_names(index: usize) -> (&'static str, &'static str) {
    let mut rng = rng(2, index);
    (pick(&mut rng, FIRST_NAMES), pick(&mut rng, LAST_NAMES))
}

pub(crate) fn contact_email(index: usize, organizations: usize) -> String {
    let (first, last) = contact_names(index);
    let local: String =
        format!("{first}.{last}.{index}").chars().filter(char::is_ascii_alphanumeric).collect();
    format!("{}@{}", local.to_lowercase(), domain(organization_of(index, organizations)))
}

pub(crate) fn contact(index: usize, organizations: usize) -> ContactDraft {
    let (first, last) = contact_names(index);
    let mut rng = rng(3, index);
    ContactDraft {
        name: format!("{first} {last}"),
        emails: vec![contact_email(index, organizations)],
        phones: vec![format!("+1 555 {:07}", index % 10_000_000)],
        addresses: Vec::new(),
        title: pick(&mut rng, TITLES).to_owned(),
        custom: Map::new(),
    }
}

/// A box and what it links to: an organization and, when it has any, one of its contacts.
pub(crate) struct BoxPlan {
    pub draft: BoxDraft,
    pub organization: usize,
    pub contact: Option<usize>,
}

pub(crate) fn crm_box(
    index: usize,
    pipeline: &Pipeline,
    members: &[String],
    sizes: (usize, usize),
) -> BoxPlan {
    let (organizations, contacts) = sizes;
    let mut rng = rng(4, index);
    let organization = rng.gen_range(0..organizations.max(1));
    let contact = contact_at(&mut rng, organization, organizations, contacts);
    let stage = pipeline.stages[rng.gen_range(0..pipeline.stages.len())].id.to_string();
    let mut fields = Map::new();
    for field in &pipeline.fields {
        let value = match field.name.as_str() {
            "Amount" => json!(rng.gen_range(1..500) * 100),
            "Close date" => {
                let days = rng.gen_range(-90..180);
                Value::String(Timestamp::now().plus_seconds(days * 86_400).to_string()[..10].to_owned())
            }
            "Priority" => json!(field.options.choose(&mut rng)),
            _ => json!([pick(&mut rng, PRODUCTS)]),
        };
        fields.insert(field.id.to_string(), value);
    }
    let org_name = organization_name(organization);
    let draft = BoxDraft {
        name: format!("{org_name}: {}", pick(&mut rng, PRODUCTS)),
        notes: pick(&mut rng, SENTENCES).to_owned(),
        stage: Some(stage),
        fields,
        assignees: members.choose(&mut rng).into_iter().cloned().collect(),
        followers: Vec::new(),
    };
    BoxPlan { draft, organization, contact }
}

fn organization_name(index: usize) -> String {
    organization(index).name
}

pub(crate) fn comment(index: usize) -> String {
    let mut rng = rng(5, index);
    format!("@{} {}", member_email(rng.gen_range(0..MEMBERS)), pick(&mut rng, SENTENCES))
}

pub(crate) fn task(index: usize) -> (String, String) {
    let mut rng = rng(6, index);
    let due = Timestamp::now().plus_seconds(rng.gen_range(-10..30) * 86_400).to_string()[..10].to_owned();
    (format!("Follow up: {}", pick(&mut rng, PRODUCTS)), due)
}

/// Thread lengths (1 to `THREAD_MAX`, 5 on average) adding up to exactly `messages`.
pub(crate) fn thread_lengths(messages: usize) -> Vec<u8> {
    let mut lengths = Vec::with_capacity(messages / 5 + 1);
    let mut left = messages;
    while left > 0 {
        let length = (rng(7, lengths.len()).gen_range(1..=THREAD_MAX)).min(left);
        left -= length;
        lengths.push(u8::try_from(length).unwrap_or(u8::MAX));
    }
    lengths
}

/// One thread's messages, oldest first: the sender alternates between a contact and a member,
/// a reply names its parent in In-Reply-To and every earlier message in References, a third
/// of the threads copy a colleague of the contact, and `file_on` is set on the first message
/// of the threads to file on a box.
pub(crate) struct ThreadPlan {
    pub contact: usize,
    pub colleague: Option<usize>,
    pub member: usize,
    pub subject: String,
    pub filed: bool,
    pub start: Timestamp,
    rng: StdRng,
}

pub(crate) fn thread(index: usize, threads: usize, sizes: (usize, usize)) -> ThreadPlan {
    let (organizations, contacts) = sizes;
    let mut rng = rng(8, index);
    let contact = rng.gen_range(0..contacts.max(1));
    let organization = organization_of(contact, organizations);
    let colleague = if rng.gen_ratio(1, 3) {
        contact_at(&mut rng, organization, organizations, contacts).filter(|c| *c != contact)
    } else {
        None
    };
    // Threads start over the last year, in index order, so the newest threads are the last seeded.
    let year_ms = 365 * 86_400_000_i64;
    let offset = i64::try_from(index).unwrap_or(0) * year_ms / i64::try_from(threads.max(1)).unwrap_or(1);
    let start = Timestamp::from_millis(Timestamp::now().millis() - year_ms - 86_400_000 + offset);
    ThreadPlan {
        contact,
        colleague,
        member: rng.gen_range(0..MEMBERS),
        subject: format!("{} for {}", pick(&mut rng, PRODUCTS), organization_name(organization)),
        filed: rng.gen_ratio(FILED_PERCENT, 100),
        start,
        rng,
    }
}

impl ThreadPlan {
    /// Message `n` of thread `thread`: its Message-ID, its participants, its text and when it
    /// was sent (hours after the one before).
    pub fn message(
        &mut self,
        thread: usize,
        n: usize,
        organizations: usize,
    ) -> (String, Vec<(ParticipantRole, String, String)>, String, Timestamp) {
        let contact = (contact_email(self.contact, organizations), contact_names(self.contact));
        let member = (member_email(self.member), format!("Member {}", self.member));
        let contact_name = format!("{} {}", contact.1.0, contact.1.1);
        let (from, to) = if n.is_multiple_of(2) {
            ((contact.0, contact_name), member)
        } else {
            (member, (contact.0, contact_name))
        };
        let mut participants =
            vec![(ParticipantRole::From, from.0, from.1), (ParticipantRole::To, to.0, to.1)];
        if let Some(colleague) = self.colleague {
            participants.push((ParticipantRole::Cc, contact_email(colleague, organizations), String::new()));
        }
        let sentences = self.rng.gen_range(1..4);
        let body = (0..sentences).map(|_| pick(&mut self.rng, SENTENCES)).collect::<Vec<_>>().join(" ");
        self.start = self.start.plus_seconds(self.rng.gen_range(600..48 * 3600));
        (message_id(thread, n), participants, body, self.start)
    }
}

pub(crate) fn message_id(thread: usize, n: usize) -> String {
    format!("t{thread}.m{n}@mail.bench.example")
}
