//! Cooperative societies as the registry MHRSD keeps holds them: kind, status, members,
//! board, headquarters, and the numbers of the records other agencies hold about them.

use rabt_core::{DualDate, NationalId, ShortAddress, UnifiedNumber};
use serde::Serialize;

use super::address::Bilingual;

wire_enum! {
    /// What a cooperative society does.
    CooperativeKind {
        /// متعددة الأغراض.
        MultiPurpose = "MULTI_PURPOSE",
        /// زراعية.
        Agricultural = "AGRICULTURAL",
        /// استهلاكية.
        Consumer = "CONSUMER",
        /// صيد الأسماك.
        Fisheries = "FISHERIES",
        /// إسكان.
        Housing = "HOUSING",
        /// خدمات.
        Services = "SERVICES",
        /// نقل.
        Transport = "TRANSPORT",
        /// إنتاجية.
        Productive = "PRODUCTIVE",
        /// جمعيات الأحياء: the neighbourhood cooperatives.
        Neighbourhood = "NEIGHBOURHOOD",
        /// Anything else.
        Other = "OTHER",
    }
}

impl CooperativeKind {
    /// Whether its members handle food, so that its workers need health certificates.
    pub fn handles_food(self) -> bool {
        match self {
            CooperativeKind::Consumer
            | CooperativeKind::Fisheries
            | CooperativeKind::Neighbourhood => true,
            CooperativeKind::MultiPurpose
            | CooperativeKind::Agricultural
            | CooperativeKind::Housing
            | CooperativeKind::Services
            | CooperativeKind::Transport
            | CooperativeKind::Productive
            | CooperativeKind::Other => false,
        }
    }
}

wire_enum! {
    /// Where a cooperative stands in the registry.
    CooperativeStatus {
        /// Registered and operating.
        Active = "ACTIVE",
        /// Suspended by the ministry.
        Suspended = "SUSPENDED",
        /// Being wound up.
        UnderLiquidation = "UNDER_LIQUIDATION",
        /// Struck off.
        Dissolved = "DISSOLVED",
    }
}

wire_enum! {
    /// A seat on a cooperative's board.
    BoardRole {
        /// رئيس مجلس الإدارة.
        Chairman = "CHAIRMAN",
        /// نائب الرئيس.
        ViceChairman = "VICE_CHAIRMAN",
        /// أمين الصندوق.
        Treasurer = "TREASURER",
        /// أمين السر.
        Secretary = "SECRETARY",
        /// عضو.
        Member = "MEMBER",
    }
}

/// One member of a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardSeat {
    /// A citizen of the world ([`super::World::person`] finds them).
    pub person: NationalId,
    /// The seat.
    pub role: BoardRole,
    /// When the board's term ends (2036 or later).
    pub term_ends_at: DualDate,
}

/// A cooperative society's registry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cooperative {
    /// The 700 number MHRSD issued.
    pub unified_number: UnifiedNumber,
    /// The number in the cooperative societies register (`^\d{1,10}$`).
    pub registration_number: String,
    /// The society's name.
    pub name: Bilingual,
    /// What it does.
    pub kind: CooperativeKind,
    /// Where it stands.
    pub status: CooperativeStatus,
    /// When it was registered (2024 or earlier).
    pub registered_at: DualDate,
    /// How many members it has (at least 12, the legal minimum).
    pub member_count: u32,
    /// Its board: exactly one chairman, citizens only.
    pub board: Vec<BoardSeat>,
    /// Its headquarters: an address of this world, except in one deliberate case
    /// ([`super::cases::COOP_HQ_NOT_IN_WORLD`]).
    pub headquarters: ShortAddress,
    /// The number of the municipal licence it trades under (`^\d{8,20}$`).
    pub municipal_licence: String,
    /// Its chamber of commerce membership number, if it has one.
    pub chamber_membership: Option<String>,
    /// Whether MHRSD has a Nitaqat file for it (`false`: the labour service answers
    /// `E0000949`, not in Nitaqat).
    pub labor_file: bool,
}

impl Cooperative {
    /// The board's chairman (every cooperative of the world has exactly one).
    pub fn chairman(&self) -> Option<&BoardSeat> {
        self.board.iter().find(|s| s.role == BoardRole::Chairman)
    }
}
