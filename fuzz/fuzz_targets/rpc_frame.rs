//! Fuzzes what the daemon does with untrusted bytes: the length word and header of a frame, then
//! the XDR body of every message shape a client can send or a server can answer with. Decoding
//! must never panic, never allocate beyond the input size, and a successful decode must re-encode
//! to bytes that decode to the same encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_proto::packet::{body_len, Packet};
use rvirt_proto::remote::*;
use rvirt_proto::xdr::{from_bytes, to_bytes, Xdr};

fn roundtrip<T: Xdr>(payload: &[u8]) {
    if let Ok(v) = from_bytes::<T>(payload) {
        // Compare encodings, not values: NaN doubles in typed parameters are not equal to
        // themselves but must survive a round trip bit for bit.
        let bytes = to_bytes(&v);
        let again: T = from_bytes(&bytes).expect("re-encoded value must decode");
        assert_eq!(to_bytes(&again), bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let _ = body_len([data[0], data[1], data[2], data[3]]);
    }
    let Ok(p) = Packet::decode(data).or_else(|_| Packet::decode_body(data)) else {
        return;
    };
    let payload = &p.payload;
    // Dispatch on the procedure number the way the daemon does, and also try every shape.
    match p.header.proc_ % 16 {
        0 => roundtrip::<ConnectOpenArgs>(payload),
        1 => roundtrip::<RemoteError>(payload),
        2 => roundtrip::<ListAllDomainsRet>(payload),
        3 => roundtrip::<DomainFlagsArgs>(payload),
        4 => roundtrip::<XmlFlagsArgs>(payload),
        5 => roundtrip::<NodeGetInfoRet>(payload),
        6 => roundtrip::<DomainGetInfoRet>(payload),
        7 => roundtrip::<TypedParam>(payload),
        8 => roundtrip::<VolCreateXmlFromArgs>(payload),
        9 => roundtrip::<DomainEventCallbackLifecycleMsg>(payload),
        10 => roundtrip::<SecurityLabelListRet>(payload),
        11 => roundtrip::<NodeGetSecurityModelRet>(payload),
        12 => roundtrip::<PoolListAllVolumesArgs>(payload),
        13 => roundtrip::<DomainEventCallbackRegisterArgs>(payload),
        14 => roundtrip::<AuthListRet>(payload),
        _ => roundtrip::<VolTransferArgs>(payload),
    }
    let _ = p.encode();
});
