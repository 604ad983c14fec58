//! The generated cooperatives of a world, spread over its regions, each with a board
//! drawn from the world's citizens and a headquarters among the world's addresses; the
//! records other agencies hold about them come from [`super::paperwork`].

use rabt_core::{Calendar, NationalId, UnifiedNumber};

use super::address::{Address, Bilingual};
use super::cooperatives::{BoardRole, BoardSeat, Cooperative, CooperativeKind, CooperativeStatus};
use super::dates;
use super::golden;
use super::institutions::{self, COASTAL_CITY_IDS, COOPERATIVE_WORDS};
use super::paperwork::{self, Paperwork, Taken};
use super::people::Person;
use super::registry::Records;
use super::rng::SandboxRng;

/// How many cooperatives a world generates beside the fixed ones.
const COOPERATIVES: usize = 40;

/// Kinds by weight: consumer and multi-purpose societies are the most common.
const KINDS: &[(CooperativeKind, u64)] = &[
    (CooperativeKind::MultiPurpose, 16),
    (CooperativeKind::Agricultural, 14),
    (CooperativeKind::Consumer, 14),
    (CooperativeKind::Fisheries, 8),
    (CooperativeKind::Housing, 8),
    (CooperativeKind::Services, 10),
    (CooperativeKind::Transport, 6),
    (CooperativeKind::Productive, 8),
    (CooperativeKind::Neighbourhood, 12),
    (CooperativeKind::Other, 4),
];

/// Whether a person is one of the fixed people of [`super::fixed`]: generated IDs never
/// start with `10` or `20`.
pub(super) fn is_fixed(id: &NationalId) -> bool {
    let s = id.as_str();
    s.starts_with("10") || s.starts_with("20")
}

/// Appends the generated cooperatives and their records to `records`, which already
/// holds the fixed records and every person.
pub(super) fn establishments(seed: u64, addresses: &[Address], records: &mut Records) {
    let mut rng = SandboxRng::stream(seed, "cooperatives");
    let mut paperwork = Paperwork::new(seed);
    let mut taken = Taken::of(records);
    let mut boards = Deck::new(board_candidates(&records.people), &mut rng);
    let mut workers = Deck::new(worker_candidates(&records.people), &mut paperwork.health);
    let regions = regions(addresses);
    for i in 0..COOPERATIVES {
        let Some(region) = regions.get(i % regions.len().max(1)) else {
            break;
        };
        let Some((coop, hq)) = cooperative(&mut rng, &mut taken, &mut boards, addresses, region)
        else {
            continue;
        };
        let mut coop = coop;
        paperwork.add(&mut coop, hq, &mut taken, &mut workers, records);
        records.cooperatives.push(coop);
    }
}

/// Citizens who may sit on a generated board: generated, and not food workers.
fn board_candidates(people: &[Person]) -> Vec<NationalId> {
    people
        .iter()
        .filter(|p| !is_fixed(&p.id) && p.id.as_str().starts_with('1'))
        .filter(|p| institutions::food_profession(&p.occupation_code).is_none())
        .map(|p| p.id.clone())
        .collect()
}

/// Generated people whose occupation handles food: citizens and residents.
fn worker_candidates(people: &[Person]) -> Vec<NationalId> {
    people
        .iter()
        .filter(|p| !is_fixed(&p.id))
        .filter(|p| institutions::food_profession(&p.occupation_code).is_some())
        .map(|p| p.id.clone())
        .collect()
}

/// The world's regions, in the order of its addresses.
fn regions(addresses: &[Address]) -> Vec<&str> {
    let mut seen = Vec::new();
    for a in addresses {
        if !seen.contains(&a.region.en.as_str()) {
            seen.push(a.region.en.as_str());
        }
    }
    seen
}

fn cooperative<'a>(
    rng: &mut SandboxRng,
    taken: &mut Taken,
    boards: &mut Deck,
    addresses: &'a [Address],
    region: &str,
) -> Option<(Cooperative, &'a Address)> {
    let in_region: Vec<&Address> = addresses
        .iter()
        .filter(|a| {
            a.region.en == region && a.short_address.as_str() != golden::SHORT_ADDRESS_FOUND
        })
        .collect();
    let coastal: Vec<&Address> = in_region
        .iter()
        .copied()
        .filter(|a| COASTAL_CITY_IDS.contains(&a.city_id))
        .collect();
    let mut kind = pick_kind(rng)?;
    if kind == CooperativeKind::Fisheries && coastal.is_empty() {
        // Inland regions farm instead of fishing.
        kind = CooperativeKind::Agricultural;
    }
    let candidates = if kind == CooperativeKind::Fisheries {
        &coastal
    } else {
        &in_region
    };
    let free: Vec<&Address> = candidates
        .iter()
        .copied()
        .filter(|a| !taken.headquarters.contains(a.short_address.as_str()))
        .collect();
    let hq = *rng.pick(&free)?;
    taken.headquarters.insert(hq.short_address.to_string());
    let registered_at = dates::random_day(rng, Calendar::Hijri, (1400, 1444)).ok()?;
    let coop = Cooperative {
        unified_number: unique_unified(rng, taken)?,
        registration_number: paperwork::unique(rng, &mut taken.registration, |r| {
            r.between(2000, 99_999).to_string()
        }),
        name: unique_name(rng, taken, kind, hq)?,
        kind,
        status: pick_status(rng),
        registered_at,
        member_count: if rng.below(100) < 20 {
            rng.between(60, 600)
        } else {
            rng.between(12, 60)
        },
        board: board(rng, boards)?,
        headquarters: hq.short_address.clone(),
        // Filled in by the paperwork, which numbers the records it makes.
        municipal_licence: String::new(),
        chamber_membership: None,
        labor_file: false,
    };
    Some((coop, hq))
}

fn pick_kind(rng: &mut SandboxRng) -> Option<CooperativeKind> {
    let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (kind, weight) in KINDS {
        if roll < *weight {
            return Some(*kind);
        }
        roll -= weight;
    }
    None
}

fn pick_status(rng: &mut SandboxRng) -> CooperativeStatus {
    match rng.below(100) {
        0..86 => CooperativeStatus::Active,
        86..92 => CooperativeStatus::Suspended,
        92..96 => CooperativeStatus::UnderLiquidation,
        _ => CooperativeStatus::Dissolved,
    }
}

/// `7` then a non-zero digit: the fixed cooperatives (and the unknown one of
/// [`super::cases`]) are `700…`, which no generated number is.
fn unique_unified(rng: &mut SandboxRng, taken: &mut Taken) -> Option<UnifiedNumber> {
    let text = paperwork::unique(rng, &mut taken.unified, |r| {
        format!("7{}{:08}", r.between(1, 9), r.between(0, 99_999_999))
    });
    UnifiedNumber::parse(&text).ok()
}

fn unique_name(
    rng: &mut SandboxRng,
    taken: &mut Taken,
    kind: CooperativeKind,
    hq: &Address,
) -> Option<Bilingual> {
    for _ in 0..100 {
        let name = name(rng, kind, hq)?;
        if taken.names.insert(name.en.clone()) {
            return Some(name);
        }
    }
    None
}

fn name(rng: &mut SandboxRng, kind: CooperativeKind, hq: &Address) -> Option<Bilingual> {
    let city = &hq.city;
    if kind == CooperativeKind::Neighbourhood {
        let district = &hq.district;
        return Some(Bilingual {
            ar: format!("جمعية حي {} التعاونية ب{}", district.ar, city.ar),
            en: format!(
                "{} Neighbourhood Cooperative Society, {}",
                district.en, city.en
            ),
        });
    }
    let word = rng.pick(COOPERATIVE_WORDS)?;
    let kind_name = institutions::kind_in_name(kind);
    let spaced = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!(" {s}")
        }
    };
    Some(Bilingual {
        ar: format!(
            "جمعية {} التعاونية{} ب{}",
            word.ar,
            spaced(kind_name.ar),
            city.ar
        ),
        en: format!(
            "{}{} Cooperative Society, {}",
            word.en,
            spaced(kind_name.en),
            city.en
        ),
    })
}

/// A board of five to nine: chairman, vice chairman, treasurer, secretary, members.
fn board(rng: &mut SandboxRng, deck: &mut Deck) -> Option<Vec<BoardSeat>> {
    const ROLES: [BoardRole; 4] = [
        BoardRole::Chairman,
        BoardRole::ViceChairman,
        BoardRole::Treasurer,
        BoardRole::Secretary,
    ];
    let size = usize::try_from(rng.between(5, 9)).ok()?;
    let term_ends_at =
        dates::random_day(rng, Calendar::Hijri, (dates::FIRST_VALID_HIJRI_YEAR, 1462)).ok()?;
    let people = deck.draw_distinct(size, rng)?;
    Some(
        people
            .into_iter()
            .enumerate()
            .map(|(i, person)| BoardSeat {
                person,
                role: ROLES.get(i).copied().unwrap_or(BoardRole::Member),
                term_ends_at,
            })
            .collect(),
    )
}

/// A shuffled pile of people, dealt in order.
#[derive(Debug)]
pub(super) struct Deck {
    cards: Vec<NationalId>,
    next: usize,
}

impl Deck {
    fn new(mut cards: Vec<NationalId>, rng: &mut SandboxRng) -> Self {
        shuffle(&mut cards, rng);
        Self { cards, next: 0 }
    }

    /// The next person, if any is left (workers serve one establishment each).
    pub(super) fn draw(&mut self) -> Option<NationalId> {
        let card = self.cards.get(self.next).cloned();
        self.next += 1;
        card
    }

    /// `n` different people. When fewer are left, the deck is reshuffled and dealt
    /// again, so someone may sit on two boards.
    fn draw_distinct(&mut self, n: usize, rng: &mut SandboxRng) -> Option<Vec<NationalId>> {
        if self.cards.len() < n {
            return None;
        }
        if self.cards.len() - self.next.min(self.cards.len()) < n {
            shuffle(&mut self.cards, rng);
            self.next = 0;
        }
        let drawn = self.cards.get(self.next..self.next + n)?.to_vec();
        self.next += n;
        Some(drawn)
    }
}

/// Fisher–Yates.
fn shuffle<T>(items: &mut [T], rng: &mut SandboxRng) {
    for i in (1..items.len()).rev() {
        let j = usize::try_from(rng.below(i as u64 + 1)).unwrap_or(i);
        items.swap(i, j);
    }
}
