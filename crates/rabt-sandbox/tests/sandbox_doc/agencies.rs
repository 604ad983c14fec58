//! The page's tables of the world's records, agency by agency: rendered here from the
//! world `rabt demo` and `rabt simulate` serve, and compared with the page's sections
//! word for word. A failure prints the section as it should read.

use chrono::Datelike;
use rabt_core::{DualDate, IdKind, NationalId, UnifiedNumber};
use rabt_sandbox::world::{
    BoardRole, Cooperative, LicenceStatus, NitaqatBand, Person, World, cases, golden,
};

use super::{page, section, served_world};

fn id(s: &str) -> NationalId {
    NationalId::parse(s).unwrap()
}

fn unified(s: &str) -> UnifiedNumber {
    UnifiedNumber::parse(s).unwrap()
}

/// `1400-07-05 / 1980-05-20`: Hijri first, as Saudi records write it.
fn dual(d: &DualDate) -> String {
    format!("{} / {}", d.hijri, d.gregorian)
}

/// A citizen's month in Hijri, a resident's in Gregorian: what the identity service
/// asks, as the JSON a cooperative sends.
fn birth_month(p: &Person) -> String {
    let (calendar, year, month) = match p.id.kind() {
        IdKind::Citizen => (
            "hijri",
            p.birth_date.hijri.year().into(),
            p.birth_date.hijri.month().into(),
        ),
        IdKind::Resident => (
            "gregorian",
            p.birth_date.gregorian.year(),
            p.birth_date.gregorian.month(),
        ),
    };
    format!(r#"{{"calendar": "{calendar}", "year": {year}, "month": {month}}}"#)
}

/// The people every world holds, with what each is for.
fn people(world: &World) -> String {
    let mut out = String::from(
        "| ID | name | gender | born (Hijri / Gregorian) | `birthDate` to send | nationality | mobile | in the sandbox |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for p in world.people().iter().take_while(|p| is_fixed(&p.id)) {
        let name = p.name.full();
        out.push_str(&format!(
            "| `{}` | {} / {} | {} | {} | `{}` | {} {} | `{}` | {} |\n",
            p.id,
            name.en,
            name.ar,
            p.gender.as_str(),
            dual(&p.birth_date),
            birth_month(p),
            p.nationality.code,
            p.nationality.name.en,
            p.mobile,
            role(world, &p.id),
        ));
    }
    out
}

fn is_fixed(id: &NationalId) -> bool {
    id.as_str().starts_with("10") || id.as_str().starts_with("20")
}

/// What a fixed person is for: a board seat, a health certificate, a case.
fn role(world: &World, person: &NationalId) -> String {
    let mut roles = Vec::new();
    if person.as_str() == golden::CITIZEN_ID {
        roles.push("the golden citizen".to_owned());
    }
    if person.as_str() == golden::RESIDENT_ID {
        roles.push("the golden resident".to_owned());
    }
    if person.as_str() == cases::NAME_NORMALISATION_ID {
        roles.push("Arabic name matching (hamza, taa marbuta)".to_owned());
    }
    if let Some(m) = golden::BOARD.iter().find(|m| m.id == person.as_str()) {
        roles.push(format!("board: {}", m.role.as_str()));
    }
    match world.health_certificate(cases::FOOD_LICENCE, person) {
        Some(c) => roles.push(format!(
            "worker at `{}`: {}, {}",
            cases::FOOD_LICENCE,
            c.status.as_str(),
            c.fitness.as_str()
        )),
        None if person.as_str() == cases::WORKER_WITHOUT_CERTIFICATE => roles.push(format!(
            "worker at `{}` without a certificate",
            cases::FOOD_LICENCE
        )),
        None => {}
    }
    roles.join("; ")
}

/// The golden board as a table and as the `board` input of the establishment check.
fn board(world: &World) -> String {
    let mut out =
        String::from("| seat | ID | name | born (Hijri / Gregorian) |\n|---|---|---|---|\n");
    let mut entries = Vec::new();
    for m in golden::BOARD {
        let p = world.person(&id(m.id)).unwrap();
        out.push_str(&format!(
            "| `{}` | `{}` | {} / {} | {} |\n",
            m.role.as_str(),
            m.id,
            p.name.full().en,
            p.name.full().ar,
            dual(&p.birth_date)
        ));
        entries.push(format!(
            "    {{\"idNumber\": \"{}\", \"birthDate\": {}}}",
            m.id,
            birth_month(p)
        ));
    }
    out.push_str(&format!(
        "\n```json\n{{\n  \"unifiedNumber\": \"{}\",\n  \"board\": [\n{}\n  ]\n}}\n```\n",
        golden::COOP_COMPLIANT,
        entries.join(",\n")
    ));
    out
}

/// The fixed cooperatives and how each differs from the compliant 7000000001.
fn cooperatives(world: &World) -> String {
    let mut out = String::from(
        "| unified number | name | type | status | headquarters | licence | chamber membership | labour file | differs from `7000000001` in |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for c in fixed_cooperatives(world) {
        let licence = world.licence(&c.municipal_licence).unwrap();
        let membership = match world.membership_of(&c.unified_number) {
            Some(m) => format!("{} `{}`", m.chamber_code, m.membership_number),
            None => "none".to_owned(),
        };
        let labor = match world.labor_file(&c.unified_number) {
            Some(f) => format!("`{}` {}", f.establishment_number(), f.band.as_str()),
            None => "none".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} / {} | `{}` | `{}` | `{}` | `{}` {} | {} | {} | {} |\n",
            c.unified_number,
            c.name.en,
            c.name.ar,
            c.kind.as_str(),
            c.status.as_str(),
            c.headquarters,
            licence.number,
            licence.status.as_str(),
            membership,
            labor,
            difference(world, c),
        ));
    }
    out
}

fn fixed_cooperatives(world: &World) -> impl Iterator<Item = &Cooperative> {
    world
        .cooperatives()
        .iter()
        .take_while(|c| c.unified_number.as_str().starts_with("70"))
}

fn difference(world: &World, c: &Cooperative) -> String {
    let u = &c.unified_number;
    let mut differs = Vec::new();
    if c.status.as_str() != "ACTIVE" {
        differs.push(format!("status {}", c.status.as_str()));
    }
    if world.address_by_short_address(&c.headquarters).is_none() {
        differs.push("headquarters not in the world".to_owned());
    }
    let licence = world.licence(&c.municipal_licence).unwrap();
    if licence.status != LicenceStatus::Active {
        differs.push(format!("licence {}", licence.status.as_str()));
    }
    match world.membership_of(u) {
        None => differs.push("no chamber membership".to_owned()),
        Some(m) if m.expires_at.gregorian.year() <= 2024 => {
            differs.push("membership expired".to_owned())
        }
        Some(_) => {}
    }
    match world.labor_file(u) {
        None => differs.push("no labour file (`E0000949`)".to_owned()),
        Some(f) if f.band != NitaqatBand::MediumGreen => {
            differs.push(format!("band {}", f.band.as_str()))
        }
        Some(_) => {}
    }
    if !world.health_certificates(&c.municipal_licence).is_empty() {
        differs.push("its workers' health certificates (below)".to_owned());
    }
    if differs.is_empty() {
        "—".to_owned()
    } else {
        differs.join("; ")
    }
}

/// What `labor.establishment.compliance` finds for each fixed cooperative.
fn compliance(world: &World) -> String {
    let mut out = String::from(
        "| unified number | establishment number | band | compliant | Saudization | Saudi / non-Saudi | certificate | GOSI |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for c in fixed_cooperatives(world) {
        let Some(f) = world.labor_file(&c.unified_number) else {
            out.push_str(&format!(
                "| `{}` | not in Nitaqat: `E0000949`, `{{\"found\": false}}` | | | | | | |\n",
                c.unified_number
            ));
            continue;
        };
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | {} | {:.1} % | {} / {} | `{}` {} until {} | `{}` |\n",
            c.unified_number,
            f.establishment_number(),
            f.band.as_str(),
            if f.band.is_compliant() { "yes" } else { "no" },
            f.saudization_rate,
            f.saudi,
            f.non_saudi,
            f.certificate.number,
            f.certificate.status.as_str(),
            f.certificate.expires_at.gregorian,
            f.gosi_registration,
        ));
    }
    out
}

/// Every licence and permit of the fixed cooperatives.
fn licences(world: &World) -> String {
    let mut out = String::from(
        "| licence number | type | status | holder | issued | expires | municipality | linked permits |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let holders: Vec<&UnifiedNumber> = fixed_cooperatives(world)
        .map(|c| &c.unified_number)
        .collect();
    for l in world
        .licences()
        .iter()
        .filter(|l| holders.contains(&&l.holder))
    {
        let permits: Vec<String> = l.linked_permits.iter().map(|p| format!("`{p}`")).collect();
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | `{}` | {} | {} | {} | {} |\n",
            l.number,
            l.kind.as_str(),
            l.status.as_str(),
            l.holder,
            dual(&l.issued_at),
            dual(&l.expires_at),
            l.municipality.en,
            permits.join(", "),
        ));
    }
    out
}

/// Every chamber membership of the fixed cooperatives.
fn memberships(world: &World) -> String {
    let mut out = String::from(
        "| chamber | membership number | holder | class | CR number | subscribed | expires | valid |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for c in fixed_cooperatives(world) {
        let Some(m) = world.membership_of(&c.unified_number) else {
            continue;
        };
        let valid = m.expires_at.gregorian.year() >= 2036;
        out.push_str(&format!(
            "| {} {} | `{}` | `{}` | `{}` | `{}` | {} | {} | {} |\n",
            m.chamber_code,
            m.chamber_name.en,
            m.membership_number,
            m.holder,
            m.class.as_str(),
            m.cr_number,
            dual(&m.subscribed_at),
            dual(&m.expires_at),
            if valid { "yes" } else { "no" },
        ));
    }
    out
}

/// The workers of the food cooperative and their certificates.
fn health(world: &World) -> String {
    let mut out = String::from(
        "| worker | certificate | status | fitness | profession | expires | valid |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let workers = [
        cases::WORKER_VALID_CITIZEN,
        cases::WORKER_VALID_RESIDENT,
        cases::WORKER_UNFIT,
        cases::WORKER_CERTIFICATE_EXPIRED,
        cases::WORKER_WITHOUT_CERTIFICATE,
    ];
    for w in workers {
        match world.health_certificate(cases::FOOD_LICENCE, &id(w)) {
            Some(c) => out.push_str(&format!(
                "| `{w}` | `{}` | `{}` | `{}` | {} / {} | {} | {} |\n",
                c.number,
                c.status.as_str(),
                c.fitness.as_str(),
                c.profession.name.en,
                c.profession.name.ar,
                c.expires_at.gregorian,
                if c.is_valid() { "yes" } else { "no" },
            )),
            None => out.push_str(&format!("| `{w}` | none: `found: false` | | | | | no |\n")),
        }
    }
    out
}

/// How many records of each kind the world holds.
fn counts(world: &World) -> String {
    let citizens = world
        .people()
        .iter()
        .filter(|p| p.id.as_str().starts_with('1'))
        .count();
    format!(
        "The world of seed {} holds {} people ({} citizens, {} residents), {} cooperatives \
         ({} fixed), {} municipal licences and building permits, {} chamber memberships, {} \
         labour files and {} health certificates.\n",
        world.seed(),
        world.people().len(),
        citizens,
        world.people().len() - citizens,
        world.cooperatives().len(),
        fixed_cooperatives(world).count(),
        world.licences().len(),
        world.memberships().len(),
        world.labor_files().len(),
        world.all_health_certificates().len(),
    )
}

/// The first generated cooperative of each region.
fn generated(world: &World) -> String {
    let mut out = String::from(
        "| unified number | name | type | status | headquarters | licence | chamber membership | labour file | chairman |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut regions = Vec::new();
    for c in world
        .cooperatives()
        .iter()
        .skip(fixed_cooperatives(world).count())
    {
        let hq = world.address_by_short_address(&c.headquarters).unwrap();
        if regions.contains(&hq.region.en) {
            continue;
        }
        regions.push(hq.region.en.clone());
        let licence = world.licence(&c.municipal_licence).unwrap();
        let membership = world
            .membership_of(&c.unified_number)
            .map(|m| format!("{} `{}`", m.chamber_code, m.membership_number))
            .unwrap_or_else(|| "none".to_owned());
        let labor = world
            .labor_file(&c.unified_number)
            .map(|f| format!("`{}` {}", f.establishment_number(), f.band.as_str()))
            .unwrap_or_else(|| "none".to_owned());
        let chair = c
            .board
            .iter()
            .find(|s| s.role == BoardRole::Chairman)
            .unwrap();
        out.push_str(&format!(
            "| `{}` | {} | `{}` | `{}` | `{}` {} | `{}` {} | {} | {} | `{}` |\n",
            c.unified_number,
            c.name.en,
            c.kind.as_str(),
            c.status.as_str(),
            c.headquarters,
            hq.city.en,
            licence.number,
            licence.status.as_str(),
            membership,
            labor,
            chair.person,
        ));
    }
    out
}

/// Every rendered section, by its marker name.
fn sections(world: &World) -> Vec<(&'static str, String)> {
    vec![
        ("people", people(world)),
        ("board", board(world)),
        ("cooperatives", cooperatives(world)),
        ("compliance", compliance(world)),
        ("licences", licences(world)),
        ("memberships", memberships(world)),
        ("health", health(world)),
        ("counts", counts(world)),
        ("generated", generated(world)),
    ]
}

#[test]
fn the_agency_tables_are_what_the_world_holds() {
    let world = served_world();
    let page = page();
    let mut wrong = Vec::new();
    for (name, expected) in sections(&world) {
        let written = section(&page, name).join("\n");
        if written.trim() != expected.trim() {
            wrong.push(format!(
                "<!-- sandbox_doc:{name} -->\n{expected}<!-- /sandbox_doc:{name} -->"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/sandbox.md differs from the world; these sections should read:\n\n{}",
        wrong.join("\n\n")
    );
}

#[test]
fn the_quoted_cases_are_the_world_s() {
    let world = served_world();
    let page = page();
    for quoted in [
        cases::NAME_NORMALISATION_VARIANT_AR,
        cases::NAME_NORMALISATION_OTHER_AR,
        cases::ID_IN_NO_WORLD,
        cases::COOP_IN_NO_WORLD,
        cases::LICENCE_IN_NO_WORLD,
        cases::HQ_NOT_IN_WORLD,
        golden::CITIZEN_MOBILE,
    ] {
        assert!(
            page.contains(quoted),
            "docs/sandbox.md should quote {quoted}"
        );
    }
    assert!(world.person(&id(cases::ID_IN_NO_WORLD)).is_none());
    assert!(
        world
            .cooperative(&unified(cases::COOP_IN_NO_WORLD))
            .is_none()
    );
}
