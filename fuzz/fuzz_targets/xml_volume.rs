//! Fuzzes the storage volume XML model for every pool type (chosen by the first byte): parse,
//! format, parse the output again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_xml::storage::{PoolType, VolDef};

const TYPES: [PoolType; 14] = [
    PoolType::Dir,
    PoolType::Fs,
    PoolType::Netfs,
    PoolType::Logical,
    PoolType::Disk,
    PoolType::Iscsi,
    PoolType::IscsiDirect,
    PoolType::Scsi,
    PoolType::Mpath,
    PoolType::Rbd,
    PoolType::Sheepdog,
    PoolType::Gluster,
    PoolType::Zfs,
    PoolType::Vstorage,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let pool = TYPES[sel as usize % TYPES.len()];
    let Ok(def) = VolDef::parse(pool, s) else {
        return;
    };
    let out = def.format(pool);
    let _ = VolDef::parse(pool, &out).map(|d| d.format(pool));
});
