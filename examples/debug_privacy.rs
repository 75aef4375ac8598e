#![allow(clippy::unwrap_used)] // a test or benchmark may stop at the first surprise
use dyaspora::aggregate::{group, privacy, tally, Filter, Snapshot};
fn main() {
    let set = dyaspora::demo::generate(50_000, 1);
    let snap = Snapshot::build(set.records, 1);
    let f = Filter::default();
    let m = f.compile(&snap).unwrap();
    let target = u64::from_str_radix("852664cffffffff", 16).unwrap();
    let table = group::h3_table(&snap, &m, 5);
    let areas = group::area_table(&snap, &m);
    let vis = privacy::suppress_h3(&table, &[], &areas.states, 11);
    for (li, level) in table.levels.iter().enumerate() {
        let p = dyaspora::aggregate::snapshot::parent(target, level.res);
        if let Some(i) = level.ids.iter().position(|&c| c == p) {
            let t = &level.tallies[i];
            println!(
                "res {} N={} F={} M={} X={} state={} mask F={} M={} N={}",
                level.res,
                t.d[tally::N],
                t.d[tally::F],
                t.d[tally::M],
                t.d[tally::X],
                t.state,
                privacy::is_visible(vis.levels[li][i], tally::F),
                privacy::is_visible(vis.levels[li][i], tally::M),
                privacy::is_visible(vis.levels[li][i], tally::N)
            );
        }
    }
    println!(
        "national F vis {}",
        privacy::is_visible(vis.national, tally::F)
    );
}
