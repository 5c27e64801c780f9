//! Unit tests for the domain document: defaults, errors and round trips on small documents.
//! Byte-for-byte comparisons with libvirt's own output live in `tests/domain_golden.rs`.

use super::*;

const MIN: &str =
    "<domain type='test'><name>min</name><memory>1024</memory><os><type>hvm</type></os></domain>";

#[test]
fn minimal_document_gets_libvirt_defaults() {
    let def = parse(MIN).unwrap();
    let out = format(&def, FormatOpts::default());
    let uuid = uuid_format(&def.uuid);
    assert_eq!(
        out,
        format!(
            "<domain type='test'>
  <name>min</name>
  <uuid>{uuid}</uuid>
  <memory unit='KiB'>1024</memory>
  <currentMemory unit='KiB'>1024</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
  </devices>
</domain>
"
        )
    );
}

fn err(xml: &str) -> (i32, i32, String) {
    let e = parse(xml).unwrap_err();
    (e.code(), e.domain(), e.message())
}

#[test]
fn errors_match_libvirt() {
    assert_eq!(
        err("<domain type='test'><memory>1</memory><os><type>hvm</type></os></domain>"),
        (21, 20, "missing name information".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><uuid>zzz</uuid><memory>1</memory><os><type>hvm</type></os></domain>"),
        (1, 20, "internal error: malformed uuid element".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory unit='XB'>1</memory><os><type>hvm</type></os></domain>"),
        (8, 0, "invalid argument: unknown suffix 'XB'".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory>abc</memory><os><type>hvm</type></os></domain>"),
        (27, 5, "XML error: Invalid value 'abc' for element or attribute './memory[1]'".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><os><type>hvm</type></os></domain>"),
        (
            27,
            20,
            "XML error: Memory size must be specified via <memory> or in the <numa> configuration"
                .into()
        )
    );
    assert_eq!(
        err("<domain><name>x</name><memory>1</memory><os><type>hvm</type></os></domain>"),
        (
            1,
            20,
            "internal error: missing domain type attribute".into()
        )
    );
    assert_eq!(
        err(
            "<domain type='foo'><name>x</name><memory>1</memory><os><type>hvm</type></os></domain>"
        ),
        (
            67,
            20,
            "unsupported configuration: invalid domain type foo".into()
        )
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory>1</memory></domain>"),
        (27, 20, "XML error: an os <type> must be specified".into())
    );
    assert_eq!(
        err("<foo/>"),
        (
            27,
            5,
            "XML error: expecting root element of 'domain', not 'foo'".into()
        )
    );
    assert_eq!(
        err("<domain type='test'><name>a/b</name><memory>1</memory><os><type>hvm</type></os></domain>"),
        (27, 20, "XML error: name a/b cannot contain '/'".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><disk type='file'><source file='/a'/></disk></devices></domain>"),
        (20, 20, "missing target information for device /a".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type><boot dev='foo'/></os></domain>"),
        (27, 5, "XML error: Invalid value for attribute 'dev' in element 'boot': 'foo'.".into())
    );
    assert_eq!(
        err("<domain type='test'><name>x</name><memory>1</memory><vcpu current='3'>2</vcpu><os><type>hvm</type></os></domain>"),
        (67, 20, "unsupported configuration: maximum vCPU count must not be less than current vCPU count".into())
    );
}

#[test]
fn unmodelled_elements_are_refused_and_unknown_ones_dropped() {
    let (code, _, msg) = err("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os><test:domainsnapshot xmlns:test='http://libvirt.org/schemas/domain/test/1.0'/></domain>");
    assert_eq!(code, 67);
    assert!(msg.contains("<test:domainsnapshot>"), "{msg}");
    // libvirt 9.0 has no <crypto> device: like any unknown element, it is ignored.
    let def = parse("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices><crypto model='virtio' type='qemu'><backend model='builtin'/></crypto></devices></domain>").unwrap();
    assert!(!format(&def, FormatOpts::default()).contains("crypto"));
    let def = parse("<domain type='test'><name>x</name><memory>1</memory><os><type>hvm</type></os><bogus/></domain>").unwrap();
    assert!(!format(&def, FormatOpts::default()).contains("bogus"));
}

#[test]
fn running_definition_has_id() {
    let mut def = parse(MIN).unwrap();
    def.id = Some(3);
    assert!(format(&def, FormatOpts::default()).starts_with("<domain type='test' id='3'>\n"));
    let inactive = FormatOpts {
        inactive: true,
        ..Default::default()
    };
    assert!(format(&def, inactive).starts_with("<domain type='test'>\n"));
}
