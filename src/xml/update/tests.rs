//! The streaming parser against the element-tree oracle (`dom_oracle`): identical results,
//! errors included, on the real documents, lab-shaped documents, edge cases, refusals, every
//! truncation of real documents and random edits of them.

use super::*;
use crate::model::{Prerequisite, RevisionId, UpdateKind};
use uuid::Uuid;

const REAL_DOCS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/protocol/samples/real-wsusss/docs"
);

const SHA1: &str = "h/W9BGlYUAaqXTp30cZi/SiV3c0=";
const SHA256: &str = "Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA=";
const ID: &str = "3f1c9a2e-5b7d-4c1e-9a44-0d2b6e8f7a10";
const OTHER: &str = "7c2b1f40-6a3d-4e8b-9c10-2f4e6a8b0c11";

/// Parse with both parsers and require the same result, errors included.
fn same(xml: &str) -> Result<UpdateDoc, Error> {
    let streamed = parse(xml);
    let tree = dom_oracle::parse(xml);
    let shown: String = xml.chars().take(400).collect();
    assert_eq!(
        format!("{streamed:?}"),
        format!("{tree:?}"),
        "document: {shown}"
    );
    streamed
}

/// A minimal valid document around `body` (placed after Properties).
fn update(body: &str) -> String {
    format!(
        r#"<upd:Update xmlns:upd="{NS_UPDATE}"><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="201"/><upd:Properties UpdateType="Software"/>{body}</upd:Update>"#
    )
}

fn guid(s: &str) -> Uuid {
    Uuid::parse_str(s).expect("test GUID")
}

fn real_documents() -> Vec<(String, String)> {
    let mut docs: Vec<_> = std::fs::read_dir(REAL_DOCS)
        .expect("real-wsusss docs")
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            let text = std::fs::read_to_string(&path).expect("document text");
            (path.display().to_string(), text)
        })
        .collect();
    docs.sort();
    docs
}

#[test]
fn utf16_blob_without_bom_or_declaration_decodes() {
    let text = "<upd:Update/>";
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(decode_blob(&bytes).unwrap(), text);
    let mut bom = vec![0xFF, 0xFE];
    let decl = "<?xml version=\"1.0\" encoding=\"utf-16\"?><a/>";
    bom.extend(decl.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(decode_blob(&bom).unwrap(), "<a/>");
    assert_eq!(decode_blob(b"<a/>").unwrap(), "<a/>");
}

#[test]
fn wrong_root_is_a_document_error() {
    assert!(matches!(parse("<Update/>"), Err(Error::Document(_))));
}

#[test]
fn real_documents_parse_as_the_tree_parser_did() {
    let docs = real_documents();
    assert!(docs.len() >= 9, "{} documents", docs.len());
    for (path, xml) in &docs {
        let doc = same(xml).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(doc.title.is_some(), "{path}");
    }
    let bundle = docs
        .iter()
        .find(|(p, _)| p.contains("a2fef9b0"))
        .map(|(_, xml)| same(xml).expect("bundle"))
        .expect("a2fef9b0 sample");
    assert_eq!(bundle.superseded.len(), 10);
    assert!(bundle.bundled.iter().all(|r| r.revision == 200));
    assert_eq!(bundle.category_ids().count(), 2);
}

/// Documents shaped like the lab's (src/lab/documents.rs), one per kind of entity.
const LAB_SHAPED: &[&str] = &[
    // Software, pretty-printed with comments (wsusss.md §5.6), EULA and superseded update.
    r#"<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"
        xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing"
        xmlns:lar="http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules">
      <upd:UpdateIdentity UpdateID="3f1c9a2e-5b7d-4c1e-9a44-0d2b6e8f7a10" RevisionNumber="201"/>
      <upd:Properties DefaultPropertiesLanguage="en" UpdateType="Software" PublicationState="Published"
          EulaID="0e4b9f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b" MsrcSeverity="Important">
        <upd:InstallationBehavior RebootBehavior="CanRequestReboot"/>
        <upd:KBArticleID>5099999</upd:KBArticleID>
      </upd:Properties>
      <upd:LocalizedPropertiesCollection>
        <upd:LocalizedProperties>
          <upd:Language>en</upd:Language>
          <upd:Title>Outpost Lab Security Update KB5099999 (x64)</upd:Title>
          <upd:Description>Synthetic update used by the lab upstream.</upd:Description>
        </upd:LocalizedProperties>
      </upd:LocalizedPropertiesCollection>
      <upd:Relationships>
        <upd:Prerequisites>
          <upd:UpdateIdentity UpdateID="7c2b1f40-6a3d-4e8b-9c10-2f4e6a8b0c11"/>   <!-- detectoid -->
          <upd:AtLeastOne IsCategory="true">
            <upd:UpdateIdentity UpdateID="5a8e7d60-3c2b-4f1a-8d9e-6b4c2a0e8f12"/>
          </upd:AtLeastOne>
          <upd:AtLeastOne IsCategory="true">
            <upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441"/>
          </upd:AtLeastOne>
        </upd:Prerequisites>
        <upd:SupersededUpdates>
          <upd:UpdateIdentity UpdateID="9d4e2c80-1b3a-4d5f-a6e7-8c9b0a1d2e13"/>
        </upd:SupersededUpdates>
      </upd:Relationships>
      <upd:ApplicabilityRules>
        <upd:IsInstalled><lar:False/></upd:IsInstalled>
        <upd:IsInstallable><lar:True/></upd:IsInstallable>
      </upd:ApplicabilityRules>
      <upd:Files>
        <upd:File Digest="h/W9BGlYUAaqXTp30cZi/SiV3c0=" DigestAlgorithm="SHA1"
            FileName="outpost-lab-kb5099999-x64.exe" Size="24" Modified="2024-05-10T09:00:00Z"
            PatchingType="SelfContained">
          <upd:AdditionalDigest Algorithm="SHA256">Amt0qymy5KsROiwIXm4QIIV75Ju4r+Cl28Pg8gaLXUA=</upd:AdditionalDigest>
        </upd:File>
      </upd:Files>
      <upd:HandlerSpecificData xsi:type="cmd:CommandLineInstallation"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
          xmlns:cmd="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation">
        <cmd:InstallCommand Program="outpost-lab-kb5099999-x64.exe" Arguments="/quiet /norestart">
          <cmd:ReturnCode Code="0" Result="Succeeded" Reboot="false"/>
        </cmd:InstallCommand>
      </upd:HandlerSpecificData>
    </upd:Update>"#,
    // Company: upper-case UpdateID, English not first, no relationships.
    r#"<upd:Update xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing" xmlns:cat="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="56309036-4C77-4DD9-951A-99EE9C246A94" RevisionNumber="101" /><upd:Properties DefaultPropertiesLanguage="en" UpdateType="Category" Handler="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category" PublicationState="Published"></upd:Properties><upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>ar</upd:Language><upd:Title>Outpost Lab (ar)</upd:Title></upd:LocalizedProperties><upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>Outpost Lab</upd:Title></upd:LocalizedProperties><upd:LocalizedProperties><upd:Language>fr</upd:Language><upd:Title>Outpost Lab (fr)</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection><upd:HandlerSpecificData xsi:type="cat:Category" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cat:CategoryInformation CategoryType="Company" ProhibitsSubcategories="false" ProhibitsUpdates="true" DisplayOrder="1" /></upd:HandlerSpecificData></upd:Update>"#,
    // Product family: a category AtLeastOne, an escaped title.
    r#"<upd:Update xmlns:cat="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="6964aab4-c5b5-43bd-a17d-ffb4346a8e1d" RevisionNumber="100" /><upd:Properties UpdateType="Category" PublicationState="Published" /><upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Title>Outpost Lab Windows &amp; Tools</upd:Title></upd:LocalizedProperties><upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>Outpost Lab Windows &amp; Tools</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection><upd:Relationships><upd:Prerequisites><upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="56309036-4c77-4dd9-951a-99ee9c246a94" /></upd:AtLeastOne></upd:Prerequisites></upd:Relationships><upd:HandlerSpecificData xsi:type="cat:Category" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cat:CategoryInformation CategoryType="ProductFamily" /></upd:HandlerSpecificData></upd:Update>"#,
    // Classification: `cat` declared only on CategoryInformation.
    r#"<upd:Update xmlns:pub="http://schemas.microsoft.com/msus/2002/12/Publishing" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="0fa1201d-4330-4fa8-8ae9-b877473b6441" RevisionNumber="200" /><upd:Properties UpdateType="Category" /><upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>Security Updates</upd:Title></upd:LocalizedProperties><upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Title>Security Updates</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection><upd:HandlerSpecificData xsi:type="cat:Category" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cat:CategoryInformation CategoryType="UpdateClassification" ProhibitsSubcategories="true" xmlns:cat="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category" /></upd:HandlerSpecificData></upd:Update>"#,
    // Detectoid: a `bar` rule, no title language `en` (first title wins).
    r#"<upd:Update xmlns:bar="http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules" xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="7c2b1f40-6a3d-4e8b-9c10-2f4e6a8b0c11" RevisionNumber="200" /><upd:Properties UpdateType="Detectoid" /><upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>all</upd:Language><upd:Title>x64-based systems</upd:Title></upd:LocalizedProperties><upd:LocalizedProperties><upd:Language>de</upd:Language><upd:Title>x64-Systeme</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection><upd:ApplicabilityRules><upd:IsInstalled><bar:Processor Architecture="9" /></upd:IsInstalled></upd:ApplicabilityRules></upd:Update>"#,
    // Bundle: members in several AtLeastOne groups and one directly.
    r#"<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="a2fef9b0-7951-4c2c-a42b-9e351dd1c1fe" RevisionNumber="200" /><upd:Properties UpdateType="Software" /><upd:Relationships><upd:Prerequisites><upd:AtLeastOne><upd:UpdateIdentity UpdateID="e0789628-ce08-4437-be74-2495b842f43b" /></upd:AtLeastOne></upd:Prerequisites><upd:BundledUpdates><upd:AtLeastOne><upd:UpdateIdentity UpdateID="90f961a9-1756-4493-aade-644c37589961" RevisionNumber="200" /><upd:UpdateIdentity UpdateID="b41f24ed-5293-4c1c-81c8-9d4b8af8eb7e" RevisionNumber="201" /></upd:AtLeastOne><upd:UpdateIdentity UpdateID="ccb78947-6453-4ecc-9de8-bc0305c98f2d" RevisionNumber="7" /><upd:AtLeastOne><upd:UpdateIdentity UpdateID="940d319c-760b-429c-9bc8-e059163457fb" RevisionNumber=" 202 " /></upd:AtLeastOne></upd:BundledUpdates></upd:Relationships></upd:Update>"#,
    // Driver: driver metadata handler, a file without AdditionalDigest or Size.
    r#"<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="1f9bd9bb-7390-4aa3-bbdb-ded99fac2583" RevisionNumber="200" /><upd:Properties UpdateType="Driver" /><upd:Files><upd:File Digest="h/W9BGlYUAaqXTp30cZi/SiV3c0=" FileName="lab.cab" /></upd:Files><upd:ApplicabilityRules><upd:Metadata><drv:WindowsDriverMetaData xmlns:drv="http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver" HardwareID="PCI\VEN_1234" /></upd:Metadata></upd:ApplicabilityRules><upd:HandlerSpecificData xsi:type="drv:WindowsDriver" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" /></upd:Update>"#,
    // Expired revision, no localized properties at all.
    r#"<upd:Update xmlns:upd="http://schemas.microsoft.com/msus/2002/12/Update"><upd:UpdateIdentity UpdateID="ff36f0b5-dded-4780-8664-cd78af8b62c1" RevisionNumber="201" /><upd:Properties UpdateType="software" PublicationState="expired" /></upd:Update>"#,
];

#[test]
fn lab_shaped_documents_parse_as_the_tree_parser_did() {
    let docs: Vec<UpdateDoc> = LAB_SHAPED
        .iter()
        .map(|xml| same(xml).unwrap_or_else(|e| panic!("{e}: {xml}")))
        .collect();
    let software = &docs[0];
    assert_eq!(software.id, RevisionId::new(guid(ID), 201));
    assert_eq!(software.kind, UpdateKind::Software);
    assert_eq!(
        software.title.as_deref(),
        Some("Outpost Lab Security Update KB5099999 (x64)")
    );
    assert!(software.eula_id.is_some() && !software.expired);
    let groups: Vec<_> = software.prerequisites.iter().map(|p| p.group).collect();
    assert_eq!(groups, [None, Some(0), Some(1)]);
    assert_eq!(software.superseded.len(), 1);
    let file = &software.files[0];
    assert_eq!((file.size, file.sha256.is_some()), (24, true));
    assert_eq!(file.patching_type.as_deref(), Some("SelfContained"));

    assert_eq!(docs[1].kind, UpdateKind::Category("Company".into()));
    assert_eq!(docs[1].title.as_deref(), Some("Outpost Lab"));
    assert_eq!(
        docs[2].title.as_deref(),
        Some("Outpost Lab Windows & Tools")
    );
    assert_eq!(docs[3].kind, UpdateKind::Classification);
    assert_eq!(docs[4].kind, UpdateKind::Detectoid);
    assert_eq!(docs[4].title.as_deref(), Some("x64-based systems"));
    let revisions: Vec<_> = docs[5].bundled.iter().map(|r| r.revision).collect();
    assert_eq!(revisions, [200, 201, 7, 202]);
    assert_eq!(docs[6].kind, UpdateKind::Driver);
    assert_eq!((docs[6].files[0].size, docs[6].files[0].sha256), (0, None));
    assert!(docs[7].expired && docs[7].title.is_none());
}

#[test]
fn attribute_values_and_text_are_unescaped() {
    let xml = format!(
        r#"<upd:Update xmlns:upd="{NS_UPDATE}"><upd:UpdateIdentity UpdateID="&#x33;f1c9a2e-5b7d-4c1e-9a44-0d2b6e8f7a10" RevisionNumber="2&#48;1"/><upd:Properties UpdateType="Cat&#101;gory"/><upd:HandlerSpecificData><x:CategoryInformation xmlns:x="urn:x" CategoryType="A &amp; B &lt;C&gt; &quot;D&quot; &apos;E&apos;"/></upd:HandlerSpecificData><upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>e<!-- split -->n</upd:Language><upd:Title>T &amp; <![CDATA[<raw> &amp;]]> U<b>ignored</b> V</upd:Title></upd:LocalizedProperties></upd:LocalizedPropertiesCollection><upd:Files><upd:File Digest="{SHA1}" FileName="a &amp; b.cab" Modified="x&#x3C;y" PatchingType="&#65;"><upd:AdditionalDigest Algorithm="SHA256">{}&#61;</upd:AdditionalDigest></upd:File></upd:Files></upd:Update>"#,
        SHA256.trim_end_matches('=')
    );
    let doc = same(&xml).unwrap();
    assert_eq!(doc.id, RevisionId::new(guid(ID), 201));
    assert_eq!(doc.kind, UpdateKind::Category("A & B <C> \"D\" 'E'".into()));
    assert_eq!(doc.title.as_deref(), Some("T & <raw> &amp; U V"));
    let file = &doc.files[0];
    assert_eq!(file.name, "a & b.cab");
    assert_eq!(file.modified.as_deref(), Some("x<y"));
    assert_eq!(file.patching_type.as_deref(), Some("A"));
    assert_eq!(
        file.sha256.as_ref().map(|d| d.to_base64()).as_deref(),
        Some(SHA256)
    );
}

#[test]
fn prefixes_are_resolved_not_matched() {
    // Other prefixes, re-declared on inner elements, and the default namespace.
    let redeclared = format!(
        r#"<a:Update xmlns:a="{NS_UPDATE}"><b:UpdateIdentity xmlns:b="{NS_UPDATE}" UpdateID="{ID}" RevisionNumber="3"/><Properties xmlns="{NS_UPDATE}" UpdateType="Detectoid"><Inner/></Properties><a:Relationships><c:Prerequisites xmlns:c="{NS_UPDATE}"><c:AtLeastOne IsCategory="1"><c:UpdateIdentity UpdateID="{OTHER}"/></c:AtLeastOne></c:Prerequisites></a:Relationships></a:Update>"#
    );
    let doc = same(&redeclared).unwrap();
    assert_eq!(doc.kind, UpdateKind::Detectoid);
    assert_eq!(
        doc.prerequisites,
        [Prerequisite {
            update_id: guid(OTHER),
            group: Some(0),
            is_category: true
        }]
    );
    let default_ns = format!(
        r#"<Update xmlns="{NS_UPDATE}"><UpdateIdentity UpdateID="{ID}" RevisionNumber="1"/><Properties/><Files><File Digest="{SHA1}" Size="5"/></Files></Update>"#
    );
    assert_eq!(same(&default_ns).unwrap().files[0].size, 5);
    // The `upd` prefix bound to another namespace on an inner element: not structural.
    let rebound = update(&format!(
        r#"<upd:Files xmlns:upd="urn:other"><upd:File Digest="{SHA1}"/></upd:Files>"#
    ));
    assert!(same(&rebound).unwrap().files.is_empty());
}

#[test]
fn same_local_names_in_foreign_namespaces_are_ignored() {
    let xml = format!(
        r#"<upd:Update xmlns:upd="{NS_UPDATE}" xmlns:x="urn:x"><x:UpdateIdentity UpdateID="{OTHER}" RevisionNumber="9"/><UpdateIdentity UpdateID="{OTHER}" RevisionNumber="9"/><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="1"/><x:Properties UpdateType="Driver"/><upd:Properties/><x:Files><x:File Digest="{SHA1}"/></x:Files><x:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="{OTHER}"/></upd:SupersededUpdates></x:Relationships><upd:Relationships><x:SupersededUpdates><upd:UpdateIdentity UpdateID="{OTHER}"/></x:SupersededUpdates></upd:Relationships><x:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Language>en</upd:Language><upd:Title>no</upd:Title></upd:LocalizedProperties></x:LocalizedPropertiesCollection></upd:Update>"#
    );
    let doc = same(&xml).unwrap();
    assert_eq!(doc.id, RevisionId::new(guid(ID), 1));
    assert_eq!(doc.kind, UpdateKind::Software);
    assert!(doc.files.is_empty() && doc.superseded.is_empty() && doc.title.is_none());
}

#[test]
fn items_are_matched_by_local_name_as_the_tree_parser_did() {
    // Inside the structural containers the tree parser matched items by local name in any
    // namespace (`Element::child`/`children_named`); kept as is.
    let xml = update(&format!(
        r#"<upd:Relationships><upd:Prerequisites><x:UpdateIdentity xmlns:x="urn:x" UpdateID="{OTHER}"/><x:AtLeastOne xmlns:x="urn:x"><y:UpdateIdentity xmlns:y="urn:y" UpdateID="{ID}"/></x:AtLeastOne></upd:Prerequisites></upd:Relationships><upd:Files><x:File xmlns:x="urn:x" Digest="{SHA1}"><x:AdditionalDigest Algorithm="sha256">{SHA256}</x:AdditionalDigest></x:File></upd:Files><upd:HandlerSpecificData><CategoryInformation CategoryType="Product"/><cat:CategoryInformation xmlns:cat="urn:cat" CategoryType="Company"/></upd:HandlerSpecificData>"#
    ));
    let doc = same(&xml).unwrap();
    assert_eq!(doc.prerequisites.len(), 2);
    assert!(doc.files[0].sha256.is_some());
}

#[test]
fn only_the_first_of_each_structural_element_counts() {
    let xml = format!(
        r#"<upd:Update xmlns:upd="{NS_UPDATE}"><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="1"/><upd:UpdateIdentity UpdateID="bad"/><upd:Properties UpdateType="Driver" UpdateType2="x"/><upd:Properties UpdateType="Category"/><upd:Relationships/><upd:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="{OTHER}"/></upd:SupersededUpdates></upd:Relationships><upd:Files><upd:File Digest="{SHA1}"><upd:AdditionalDigest Algorithm="MD5">bad</upd:AdditionalDigest><upd:AdditionalDigest Algorithm="SHA256">{SHA256}</upd:AdditionalDigest><upd:AdditionalDigest Algorithm="SHA256">bad</upd:AdditionalDigest></upd:File></upd:Files><upd:Files><upd:File Digest="bad"/></upd:Files><upd:HandlerSpecificData><c:CategoryInformation xmlns:c="urn:c"/><c:CategoryInformation xmlns:c="urn:c" CategoryType="Product"/></upd:HandlerSpecificData></upd:Update>"#
    );
    let doc = same(&xml).unwrap();
    assert_eq!(doc.kind, UpdateKind::Driver);
    assert!(doc.superseded.is_empty());
    assert_eq!(doc.files.len(), 1);
    assert!(doc.files[0].sha256.is_some());
    // First CategoryInformation has no CategoryType: the second is not consulted.
    let cat = update(
        r#"<upd:HandlerSpecificData><c:CategoryInformation xmlns:c="urn:c"/><c:CategoryInformation xmlns:c="urn:c" CategoryType="Product"/></upd:HandlerSpecificData>"#,
    )
    .replace(r#"UpdateType="Software""#, r#"UpdateType="Category""#);
    assert_eq!(
        same(&cat).unwrap().kind,
        UpdateKind::Category(String::new())
    );
}

#[test]
fn at_least_one_groups_are_counted_in_order() {
    let xml = update(&format!(
        r#"<upd:Relationships><upd:Prerequisites><upd:AtLeastOne/><upd:UpdateIdentity UpdateID="{ID}"/><upd:AtLeastOne IsCategory="1"><upd:UpdateIdentity UpdateID="{OTHER}"/><upd:AtLeastOne><upd:UpdateIdentity UpdateID="{ID}"/></upd:AtLeastOne></upd:AtLeastOne><upd:AtLeastOne IsCategory="false"><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="4"/><upd:UpdateIdentity UpdateID="{OTHER}"/></upd:AtLeastOne><upd:AtLeastOne IsCategory="true"><upd:UpdateIdentity UpdateID="{ID}"/></upd:AtLeastOne></upd:Prerequisites></upd:Relationships>"#
    ));
    let doc = same(&xml).unwrap();
    let got: Vec<_> = doc
        .prerequisites
        .iter()
        .map(|p| (p.group, p.is_category))
        .collect();
    assert_eq!(
        got,
        [
            (None, false),
            (Some(1), true),
            (Some(2), false),
            (Some(2), false),
            (Some(3), true)
        ]
    );
}

#[test]
fn titles_follow_the_english_rule() {
    let entry = |lang: &str, title: Option<&str>| {
        let title = title.map(|t| format!("<upd:Title>{t}</upd:Title>"));
        format!(
            "<upd:LocalizedProperties><upd:Language>{lang}</upd:Language>{}</upd:LocalizedProperties>",
            title.unwrap_or_default()
        )
    };
    let cases = [
        (
            vec![entry("de", Some("D")), entry("en", Some("E"))],
            Some("E"),
        ),
        (vec![entry("de", None), entry("fr", Some("F"))], Some("F")),
        // English without a title wins, with no title.
        (vec![entry("de", Some("D")), entry("en", None)], None),
        (
            vec![entry(" en", Some("S")), entry("EN", Some("U"))],
            Some("S"),
        ),
        (
            vec![entry("en", Some("")), entry("en", Some("X"))],
            Some(""),
        ),
        (vec!["<upd:LocalizedProperties/>".into()], None),
    ];
    for (entries, want) in cases {
        let xml = update(&format!(
            "<upd:LocalizedPropertiesCollection>{}</upd:LocalizedPropertiesCollection>",
            entries.concat()
        ));
        assert_eq!(same(&xml).unwrap().title.as_deref(), want, "{xml}");
    }
    // Only the first Title and Language of an entry count; empty elements have empty text.
    let xml = update(
        "<upd:LocalizedPropertiesCollection><upd:LocalizedProperties><upd:Title/><upd:Title>2</upd:Title><upd:Language>fr</upd:Language><upd:Language>en</upd:Language></upd:LocalizedProperties></upd:LocalizedPropertiesCollection>",
    );
    assert_eq!(same(&xml).unwrap().title.as_deref(), Some(""));
}

#[test]
fn refusals_match_the_tree_parser() {
    let doctype = format!("<!DOCTYPE r [<!ENTITY e \"boom\">]>{}", update(""));
    assert!(matches!(same(&doctype), Err(Error::DocType)));
    assert!(matches!(
        same(&format!("{}<!DOCTYPE r>", update(""))),
        Err(Error::DocType)
    ));
    let wrong_root = r#"<x:Update xmlns:x="urn:x"><UpdateIdentity/></x:Update>"#;
    assert!(matches!(same(wrong_root), Err(Error::Document(_))));
    assert!(matches!(same("<Update/>"), Err(Error::Document(_))));
    // Syntax is checked over the whole document before the root is judged.
    assert!(matches!(
        same("<Update><a></b></Update>"),
        Err(Error::Syntax(_))
    ));
    let truncated = update("");
    assert!(matches!(
        same(&truncated[..truncated.len() - 3]),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(same(""), Err(Error::Syntax(_))));
    for trailing in ["<x/>", "text", "<![CDATA[x]]>", "</upd:Update>"] {
        let xml = format!("{}{trailing}", update(""));
        assert!(matches!(same(&xml), Err(Error::Syntax(_))), "{trailing}");
    }
    assert!(same(&format!("\n<!-- c --><?pi x?>{}\n<!-- c -->\n", update(""))).is_ok());
    assert!(matches!(
        same(&format!("text{}", update(""))),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update("<p:x/>")),
        Err(Error::Syntax(m)) if m.contains("undeclared prefix")
    ));
    // Attribute prefixes are not resolved (the tree reader never did).
    assert!(same(&update(r#"<x p:a="1"/>"#)).is_ok());
    assert!(matches!(
        same(&update(r#"<x a="1" a="2"/>"#)),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update(r#"<x a="&bogus;"/>"#)),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update(r#"<x a="&#xD800;"/>"#)),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update("<x>&bogus;</x>")),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update("<x>a & b</x>")),
        Err(Error::Syntax(_))
    ));
    assert!(matches!(
        same(&update(r#"<x a=1/>"#)),
        Err(Error::Syntax(_))
    ));
}

#[test]
fn missing_and_bad_values_match_the_tree_parser() {
    let root = |identity: &str, rest: &str| {
        format!(r#"<upd:Update xmlns:upd="{NS_UPDATE}">{identity}{rest}</upd:Update>"#)
    };
    let props = "<upd:Properties/>";
    let ident = format!(r#"<upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="1"/>"#);
    let documents = [
        root("", props),
        root(&ident, ""),
        root(r#"<upd:UpdateIdentity RevisionNumber="1"/>"#, props),
        root(
            r#"<upd:UpdateIdentity UpdateID="nope" RevisionNumber="1"/>"#,
            props,
        ),
        root(&format!(r#"<upd:UpdateIdentity UpdateID="{ID}"/>"#), props),
        root(
            &format!(r#"<upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="x"/>"#),
            props,
        ),
        root(&ident, r#"<upd:Properties EulaID="{nope}"/>"#),
        update(
            r#"<upd:Relationships><upd:Prerequisites><upd:UpdateIdentity UpdateID="x"/></upd:Prerequisites></upd:Relationships>"#,
        ),
        update(&format!(
            r#"<upd:Relationships><upd:BundledUpdates><upd:UpdateIdentity UpdateID="{ID}"/></upd:BundledUpdates></upd:Relationships>"#
        )),
        update(&format!(
            r#"<upd:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="-"/></upd:SupersededUpdates></upd:Relationships>"#
        )),
        update(r#"<upd:Files><upd:File/></upd:Files>"#),
        update(r#"<upd:Files><upd:File Digest="AAAA"/></upd:Files>"#),
        update(&format!(
            r#"<upd:Files><upd:File Digest="{SHA1}"><upd:AdditionalDigest Algorithm="SHA256">{SHA1}</upd:AdditionalDigest></upd:File></upd:Files>"#
        )),
        update(&format!(
            r#"<upd:Files><upd:File Digest="{SHA1}"><upd:AdditionalDigest Algorithm="SHA256"/></upd:File></upd:Files>"#
        )),
        update(&format!(
            r#"<upd:Files><upd:File Digest="{SHA1}" Size="-1"/></upd:Files>"#
        )),
    ];
    for xml in &documents {
        assert!(
            matches!(same(xml), Err(Error::Document(_) | Error::BadValue { .. })),
            "{xml}"
        );
    }
}

#[test]
fn the_first_error_is_the_tree_parsers_first() {
    // Several errors in one document: they are reported in the order the tree parser
    // checked (identity, Properties, EulaID, prerequisites, bundled, superseded, files),
    // whatever their order in the document; within a file: digest, SHA-256, size.
    let all = format!(
        r#"<upd:Update xmlns:upd="{NS_UPDATE}"><upd:Files><upd:File Digest="{SHA1}" Size="x"><upd:AdditionalDigest Algorithm="SHA256">bad</upd:AdditionalDigest></upd:File></upd:Files><upd:Relationships><upd:SupersededUpdates><upd:UpdateIdentity UpdateID="s"/></upd:SupersededUpdates><upd:BundledUpdates><upd:UpdateIdentity UpdateID="b"/></upd:BundledUpdates><upd:Prerequisites><upd:UpdateIdentity UpdateID="p1"/><upd:UpdateIdentity UpdateID="p2"/></upd:Prerequisites></upd:Relationships><upd:Properties EulaID="e"/><upd:UpdateIdentity UpdateID="{ID}" RevisionNumber="r"/></upd:Update>"#
    );
    let id = format!(r#"UpdateID="{ID}""#);
    let member = format!(r#"UpdateID="{ID}" RevisionNumber="1""#);
    let sha256 = format!(">{SHA256}<");
    // (what the error names, the fault, its fix), in the order they must be reported.
    let faults = [
        (
            "RevisionNumber",
            r#"RevisionNumber="r""#,
            r#"RevisionNumber="1""#,
        ),
        ("EulaID", r#"EulaID="e""#, ""),
        ("p1", r#"UpdateID="p1""#, &id),
        ("p2", r#"UpdateID="p2""#, &id),
        ("\"b\"", r#"UpdateID="b""#, &member),
        ("\"s\"", r#"UpdateID="s""#, &id),
        ("AdditionalDigest", ">bad<", &sha256),
        ("File/@Size", r#"Size="x""#, ""),
    ];
    let mut xml = all;
    for (named, fault, fix) in faults {
        let err = same(&xml).expect_err("an error is left");
        assert!(
            format!("{err:?}").contains(named),
            "{err:?}, expected {named}"
        );
        xml = xml.replace(fault, fix);
    }
    assert!(same(&xml).is_ok());
}

#[test]
fn limits_match_the_tree_parser() {
    let deep = format!("{}{}", "<a>".repeat(63), "</a>".repeat(63));
    assert!(same(&update(&deep)).is_ok());
    let deeper = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
    assert!(matches!(same(&update(&deeper)), Err(Error::Limit(_))));
    let big = update(&" ".repeat(DOC_LIMITS.max_bytes));
    assert!(matches!(same(&big), Err(Error::TooLarge(_))));
    // Element count: checked on the streaming side only (a million-element tree is slow).
    let many = update(&"<a/>".repeat(DOC_LIMITS.max_elements));
    assert!(matches!(
        parse(&many),
        Err(Error::Limit("too many elements"))
    ));
}

#[test]
fn every_truncation_of_real_documents_is_refused_alike() {
    for (path, xml) in real_documents() {
        if xml.len() > 5_000 {
            continue;
        }
        for (i, _) in xml.char_indices().skip(1) {
            assert!(same(&xml[..i]).is_err(), "{path} cut at {i}");
        }
    }
}

mod edits {
    //! Random edits of real and lab-shaped documents: whatever they break, both parsers
    //! must agree.
    use super::*;
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "",
        "<",
        ">",
        "/>",
        "\"",
        "&amp;",
        "&bogus;",
        "&#0;",
        "&",
        "<!DOCTYPE x>",
        "<!-- c -->",
        "<![CDATA[x]]>",
        "<?pi?>",
        "<x/>",
        "<p:x/>",
        r#"<p:x xmlns:p="urn:p"/>"#,
        r#" xmlns:upd="urn:other""#,
        r#" xmlns="http://schemas.microsoft.com/msus/2002/12/Update""#,
        r#" a="1" a="2""#,
        r#" RevisionNumber="x""#,
        r#" IsCategory="true""#,
        r#"<upd:UpdateIdentity UpdateID="7c2b1f40-6a3d-4e8b-9c10-2f4e6a8b0c11"/>"#,
        "<upd:AtLeastOne>",
        "</upd:AtLeastOne>",
        "<upd:Properties/>",
        "</upd:Relationships>",
        "<upd:Language>en</upd:Language>",
        "<upd:Title>t</upd:Title>",
        r#"<upd:AdditionalDigest Algorithm="SHA256">x</upd:AdditionalDigest>"#,
        "</upd:Update>",
    ];

    fn corpus() -> Vec<String> {
        let mut docs: Vec<String> = LAB_SHAPED.iter().map(|s| s.to_string()).collect();
        docs.extend(
            real_documents()
                .into_iter()
                .filter(|(_, xml)| xml.len() < 16_000)
                .map(|(_, xml)| xml),
        );
        docs
    }

    /// The nearest char boundary at or before `i`.
    fn floor(s: &str, mut i: usize) -> usize {
        i = i.min(s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn edited_documents_parse_alike(
            doc in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            len in 0usize..40,
            fragment in prop::sample::select(FRAGMENTS),
            duplicate in any::<bool>(),
        ) {
            let docs = corpus();
            let xml = &docs[doc.index(docs.len())];
            let start = floor(xml, at.index(xml.len() + 1));
            let end = floor(xml, start + len);
            // Repeat a span, or replace it by a fragment (the empty one deletes it).
            let edited = if duplicate {
                format!("{}{}", &xml[..end], &xml[start..])
            } else {
                format!("{}{fragment}{}", &xml[..start], &xml[end..])
            };
            same(&edited).ok();
        }
    }
}
