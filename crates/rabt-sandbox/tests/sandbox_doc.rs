//! docs/sandbox.md quotes the sandbox world: its seed, its size, its places, the golden
//! `RRRD2929` and a table of addresses that cooperatives' developers type into their
//! tests. This test reads the page and checks every quoted value against the world the
//! binary serves, so the page cannot drift from the code. When it fails, it prints the
//! text the page should hold.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rabt_core::{AdditionalNumber, BuildingNumber, PostalCode, ShortAddress};
use rabt_sandbox::world::{Address, World, golden};
use serde_json::{Value, json};

// The per-agency tables, in a file of their own to keep this one short.
#[path = "sandbox_doc/agencies.rs"]
mod agencies;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn page() -> String {
    read("docs/sandbox.md")
}

/// The value of `seed = N` in the `[simulate]` table of a TOML text (the first
/// `seed = N` line when `section` is `None`).
fn seed_in(text: &str, section: Option<&str>) -> Option<u64> {
    let mut in_section = section.is_none();
    for line in text.lines().map(str::trim) {
        if let (Some(wanted), true) = (section, line.starts_with('[')) {
            in_section = line == wanted;
            continue;
        }
        let value = line.strip_prefix("seed").map(str::trim_start);
        if let (true, Some(value)) = (in_section, value.and_then(|v| v.strip_prefix('='))) {
            return value.trim().parse().ok();
        }
    }
    None
}

/// The page's seed, checked against the binary's default (`deploy/rabt.toml`), and the
/// world it generates: what `rabt demo` and `rabt simulate` serve.
fn served_world() -> World {
    let page_seed = seed_in(&page(), None).expect("docs/sandbox.md shows no `seed = N` line");
    let config_seed = seed_in(&read("deploy/rabt.toml"), Some("[simulate]"))
        .expect("deploy/rabt.toml has no [simulate] seed");
    let world = World::generate(config_seed);
    assert_eq!(
        page_seed,
        config_seed,
        "docs/sandbox.md quotes seed {page_seed}, the binary serves seed {config_seed}; \
         the tables of seed {config_seed} are:\n{}",
        expected_tables(&world)
    );
    world
}

/// The page's two tables as they should read for `world`: every place, and the first
/// address generated in each city plus the first of the first city's second district.
fn expected_tables(world: &World) -> String {
    let mut out = String::from(
        "| prefix | region | city | districts (code, name, postal code) |\n|---|---|---|---|\n",
    );
    for (prefix, (region, city, districts)) in ordered_places(world) {
        let districts: Vec<String> = districts
            .iter()
            .map(|(code, name, postal)| format!("`{code}` {name} {postal}"))
            .collect();
        let districts = districts.join(", ");
        out.push_str(&format!(
            "| `{prefix}` | {region} | {city} | {districts} |\n"
        ));
    }
    out.push_str(
        "\n| short address | building | additional | postal code | street | district | city |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut cities = BTreeSet::new();
    let mut districts = BTreeSet::new();
    let first_city = world.addresses().first().map(|a| a.city.en.clone());
    for a in world.addresses() {
        let new_city = cities.insert(a.city.en.clone());
        let new_district = districts.insert(a.short_address.as_str()[..4].to_owned());
        let second_of_first =
            Some(&a.city.en) == first_city.as_ref() && new_district && districts.len() == 2;
        if new_city || second_of_first {
            out.push_str(&address_row(a));
            out.push('\n');
        }
    }
    out
}

/// The lines between `<!-- sandbox_doc:NAME -->` and `<!-- /sandbox_doc:NAME -->`.
fn section(page: &str, name: &str) -> Vec<String> {
    let start = format!("<!-- sandbox_doc:{name} -->");
    let end = format!("<!-- /sandbox_doc:{name} -->");
    let (_, rest) = page
        .split_once(&start)
        .unwrap_or_else(|| panic!("no {start} in docs/sandbox.md"));
    let (body, _) = rest
        .split_once(&end)
        .unwrap_or_else(|| panic!("no {end} in docs/sandbox.md"));
    body.lines().map(str::to_owned).collect()
}

/// The cells of a table's data rows (the header and the `|---|` line skipped).
fn rows(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

fn both(name: &rabt_sandbox::world::Bilingual) -> String {
    format!("{} / {}", name.en, name.ar)
}

/// An address as a row of the page's addresses table.
fn address_row(a: &Address) -> String {
    format!(
        "| `{}` | {} | {} | {} | {} | {} | {} |",
        a.short_address,
        a.building_number,
        a.additional_number,
        a.postal_code,
        a.street.en,
        both(&a.district),
        both(&a.city)
    )
}

#[test]
fn every_address_in_the_table_is_in_the_world_as_written() {
    let world = served_world();
    let table = rows(&section(&page(), "addresses"));
    assert!(table.len() >= 12, "the table should show a dozen addresses");
    let mut cities = BTreeSet::new();
    for row in &table {
        let [short, building, additional, postal, street, district, city] = row.as_slice() else {
            panic!("a row of 7 cells expected, got {row:?}");
        };
        let address = world
            .address_by_short_address(&ShortAddress::parse(short).unwrap())
            .unwrap_or_else(|| panic!("{short} is not in the world"));
        let expected = address_row(address);
        let written = [
            address.building_number.as_str(),
            address.additional_number.as_str(),
            address.postal_code.as_str(),
            address.street.en.as_str(),
        ];
        assert_eq!(
            [building, additional, postal, street].map(String::as_str),
            written,
            "the row of {short} should read:\n{expected}"
        );
        assert_eq!(district, &both(&address.district), "{expected}");
        assert_eq!(city, &both(&address.city), "{expected}");
        // The numbers form finds the same building.
        let by_numbers = world
            .address_by_numbers(
                &BuildingNumber::parse(building).unwrap(),
                &PostalCode::parse(postal).unwrap(),
                &AdditionalNumber::parse(additional).unwrap(),
            )
            .unwrap();
        assert_eq!(by_numbers.short_address.as_str(), short.as_str());
        cities.insert(address.city.en.clone());
    }
    let every_city: BTreeSet<String> = world
        .addresses()
        .iter()
        .map(|a| a.city.en.clone())
        .collect();
    assert_eq!(
        cities,
        every_city,
        "the table should show an address in every city, e.g.:\n{}",
        expected_tables(&world)
    );
}

/// Per two-letter prefix: region, city and the districts (code, name, postal code).
type Places = BTreeMap<String, (String, String, BTreeSet<(String, String, String)>)>;

/// Region, city and districts (code, name, postal code) of one two-letter prefix.
type Place = (String, String, Vec<(String, String, String)>);

/// The places in the order the world generates them.
fn ordered_places(world: &World) -> Vec<(String, Place)> {
    let mut places: Vec<(String, Place)> = Vec::new();
    for a in world.addresses() {
        let short = a.short_address.as_str();
        let district = (
            short[2..4].to_owned(),
            a.district.en.clone(),
            a.postal_code.to_string(),
        );
        match places.iter_mut().find(|(prefix, _)| prefix == &short[..2]) {
            Some((_, place)) if !place.2.contains(&district) => place.2.push(district),
            Some(_) => {}
            None => {
                let place = (both(&a.region), both(&a.city), vec![district]);
                places.push((short[..2].to_owned(), place));
            }
        }
    }
    places
}

fn places_of(world: &World) -> Places {
    ordered_places(world)
        .into_iter()
        .map(|(prefix, (region, city, districts))| {
            (prefix, (region, city, districts.into_iter().collect()))
        })
        .collect()
}

#[test]
fn the_places_table_lists_every_district_of_the_world() {
    let world = served_world();
    let mut written = Places::new();
    for row in rows(&section(&page(), "places")) {
        let [prefix, region, city, districts] = row.as_slice() else {
            panic!("a row of 4 cells expected, got {row:?}");
        };
        let districts = districts
            .split(", ")
            .map(|d| {
                // "`RD` Al Olaya 12211": code, name, postal code.
                let (code, rest) = d.trim_start_matches('`').split_once("` ").unwrap();
                let (name, postal) = rest.rsplit_once(' ').unwrap();
                (code.to_owned(), name.to_owned(), postal.to_owned())
            })
            .collect();
        written.insert(prefix.clone(), (region.clone(), city.clone(), districts));
    }
    assert_eq!(
        written,
        places_of(&world),
        "the places table should read:\n{}",
        expected_tables(&world)
    );
}

#[test]
fn the_golden_address_block_is_what_rabt_answers() {
    let world = served_world();
    let lines = section(&page(), "rrrd2929");
    let block: String = lines
        .iter()
        .skip_while(|l| !l.starts_with("```json"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .map(|l| format!("{l}\n"))
        .collect();
    let quoted: Value = serde_json::from_str(&block).unwrap();
    let a = world
        .address_by_short_address(&ShortAddress::parse(golden::SHORT_ADDRESS_FOUND).unwrap())
        .unwrap();
    let name = |n: &rabt_sandbox::world::Bilingual| json!({"ar": n.ar, "en": n.en});
    let expected = json!({
        "found": true,
        "shortAddress": a.short_address.as_str(),
        "buildingNumber": a.building_number.as_str(),
        "additionalNumber": a.additional_number.as_str(),
        "postalCode": a.postal_code.as_str(),
        "street": name(&a.street),
        "district": name(&a.district),
        "city": name(&a.city),
        "region": name(&a.region),
        "location": {"lat": a.location.lat, "lng": a.location.lng},
    });
    assert_eq!(quoted, expected);
}

#[test]
fn the_missing_fixtures_are_missing_and_the_count_is_right() {
    let world = served_world();
    let missing = ShortAddress::parse(golden::SHORT_ADDRESS_MISSING).unwrap();
    assert!(world.address_by_short_address(&missing).is_none());
    let unknown_numbers = world.address_by_numbers(
        &BuildingNumber::parse(golden::BUILDING_NUMBER).unwrap(),
        &PostalCode::parse(golden::POSTAL_CODE).unwrap(),
        &AdditionalNumber::parse("1000").unwrap(),
    );
    assert!(
        unknown_numbers.is_none(),
        "2929/12211/1000 is quoted as NOT_FOUND"
    );
    let count = world.addresses().len();
    // Written as the page writes numbers: 1,225.
    let written = match count {
        0..1000 => format!("{count} addresses"),
        _ => format!("{},{:03} addresses", count / 1000, count % 1000),
    };
    assert!(
        page().contains(&written),
        "docs/sandbox.md should say the world holds {written}"
    );
    let districts: usize = places_of(&world).values().map(|p| p.2.len()).sum();
    assert!(
        page().contains(&format!("each of the {districts} districts")),
        "docs/sandbox.md should count {districts} districts"
    );
}
