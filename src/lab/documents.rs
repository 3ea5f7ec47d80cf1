//! The `<upd:Update>` documents of the synthetic catalog, written on request with
//! `xml::Writer` in the shape of real WSUS metadata (wsusss.md §5, samples/real-wsusss/docs):
//! one line, no XML declaration, prefixes re-declared on inner elements, `xsi` declared on
//! `HandlerSpecificData` only, bundles in `BundledUpdates/AtLeastOne`.

use super::catalog::{Base, Class, Entity, FIRST_KB, PRODUCTS, TAG_PUBLISHER};
use crate::model::{RevisionId, UpdateFile};
use crate::xml::update::NS_UPDATE;
use crate::xml::Writer;
use uuid::Uuid;

const NS_PUB: &str = "http://schemas.microsoft.com/msus/2002/12/Publishing";
const NS_LAR: &str = "http://schemas.microsoft.com/msus/2002/12/LogicalApplicabilityRules";
const NS_BAR: &str = "http://schemas.microsoft.com/msus/2002/12/BaseApplicabilityRules";
const NS_CAT: &str = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/Category";
const NS_CMD: &str =
    "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/CommandLineInstallation";
const NS_DRV: &str = "http://schemas.microsoft.com/msus/2002/12/UpdateHandlers/WindowsDriver";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Languages of the Company document: enough of them to push it over the 5,120-byte
/// compression threshold, like the real Microsoft company document.
const LANGUAGES: [&str; 24] = [
    "ar", "cs", "da", "de", "el", "en", "es", "fi", "fr", "he", "hu", "it", "ja", "ko", "nl", "no",
    "pl", "pt", "pt-br", "ru", "sv", "tr", "zh-cn", "zh-tw",
];

const CREATED: &str = "2024-05-14T17:00:00.000Z";
const PADDING: &str = "This long description is padding that keeps the document above the \
                       5,120-byte threshold, so that GetUpdateData sends it compressed. ";

/// Every 10th plain update gets a padded description (compressed path); the rest stay small.
pub(super) fn is_padded(i: usize) -> bool {
    i.is_multiple_of(10)
}

/// The document of one revision. `file` is the entity's content file, if it has one.
pub(super) fn document(base: &Base, e: Entity, revision: i32, file: Option<&UpdateFile>) -> String {
    let mut w = Writer::new();
    match e {
        Entity::Company => company(&mut w, base, revision),
        Entity::Family => family(&mut w, base, revision),
        Entity::Product(n) => product(&mut w, base, n, revision),
        Entity::Class(c) => classification(&mut w, base, c, revision),
        Entity::Detectoid => detectoid(&mut w, base, revision),
        Entity::Bundle => bundle(&mut w, base, revision),
        Entity::NestedBundle => nested_bundle(&mut w, base, revision),
        Entity::BundleChild(n) => bundle_member(&mut w, base, n, revision, file),
        Entity::Driver(n) => driver(&mut w, base, n, revision, file),
        Entity::Plain(_) | Entity::Superseded | Entity::Superseder | Entity::Expired => {
            software(&mut w, base, e, revision, file)
        }
    }
    w.finish()
}

fn publisher(base: &Base) -> String {
    base.derive(TAG_PUBLISHER, 0).to_string()
}

fn open_update(w: &mut Writer, decls: &[(&str, &str)], id: &str, revision: i32) {
    let mut attrs: Vec<(&str, &str)> = decls.to_vec();
    attrs.push(("xmlns:upd", NS_UPDATE));
    w.open_attrs("upd:Update", &attrs);
    let rev = revision.to_string();
    w.empty_attrs(
        "upd:UpdateIdentity",
        &[("UpdateID", id), ("RevisionNumber", &rev)],
    );
}

fn localized(w: &mut Writer, language: &str, title: &str, description: Option<&str>) {
    w.open("upd:LocalizedProperties")
        .leaf("upd:Language", language)
        .leaf("upd:Title", title)
        .opt_leaf("upd:Description", description)
        .close("upd:LocalizedProperties");
}

fn identity_ref(w: &mut Writer, id: Uuid) {
    w.empty_attrs("upd:UpdateIdentity", &[("UpdateID", &id.to_string())]);
}

fn at_least_one(w: &mut Writer, is_category: bool, id: Uuid) {
    if is_category {
        w.open_attrs("upd:AtLeastOne", &[("IsCategory", "true")]);
    } else {
        w.open("upd:AtLeastOne");
    }
    identity_ref(w, id);
    w.close("upd:AtLeastOne");
}

fn bundled(w: &mut Writer, members: &[RevisionId]) {
    w.open("upd:BundledUpdates").open("upd:AtLeastOne");
    for m in members {
        let rev = m.revision.to_string();
        w.empty_attrs(
            "upd:UpdateIdentity",
            &[
                ("UpdateID", &m.update_id.to_string()),
                ("RevisionNumber", &rev),
            ],
        );
    }
    w.close("upd:AtLeastOne").close("upd:BundledUpdates");
}

fn category_properties(w: &mut Writer, base: &Base) {
    w.open_attrs(
        "upd:Properties",
        &[
            ("DefaultPropertiesLanguage", "en"),
            ("IsPublic", "true"),
            ("UpdateType", "Category"),
            ("Handler", NS_CAT),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .close("upd:Properties");
}

fn category_handler(w: &mut Writer, info: &[(&str, &str)], redeclare_cat: bool) {
    w.open_attrs(
        "upd:HandlerSpecificData",
        &[("xsi:type", "cat:Category"), ("xmlns:xsi", NS_XSI)],
    );
    let mut attrs = info.to_vec();
    if redeclare_cat {
        attrs.push(("xmlns:cat", NS_CAT));
    }
    w.empty_attrs("cat:CategoryInformation", &attrs)
        .close("upd:HandlerSpecificData");
}

fn lar_true_installed(w: &mut Writer) {
    w.open("upd:ApplicabilityRules")
        .open("upd:IsInstalled")
        .empty("lar:True")
        .close("upd:IsInstalled")
        .close("upd:ApplicabilityRules");
}

/// Software rules: never installed, always installable.
fn lar_installable(w: &mut Writer) {
    w.open("upd:ApplicabilityRules")
        .open("upd:IsInstalled")
        .empty("lar:False")
        .close("upd:IsInstalled")
        .open("upd:IsInstallable")
        .empty("lar:True")
        .close("upd:IsInstallable")
        .close("upd:ApplicabilityRules");
}

/// Shaped like the real Microsoft company document (56309036…): upper-case UpdateID inside
/// the document, many languages, no relationships.
fn company(w: &mut Writer, base: &Base, revision: i32) {
    let id = base.id(Entity::Company).to_string().to_uppercase();
    open_update(
        w,
        &[
            ("xmlns:pub", NS_PUB),
            ("xmlns:lar", NS_LAR),
            ("xmlns:cat", NS_CAT),
        ],
        &id,
        revision,
    );
    category_properties(w, base);
    w.open("upd:LocalizedPropertiesCollection");
    // The old revision is English-only (and small enough to travel uncompressed).
    let languages: &[&str] = if revision > 1 { &LANGUAGES } else { &["en"] };
    for lang in languages {
        localized(w, lang, "Outpost Lab", Some("Outpost Lab"));
    }
    w.close("upd:LocalizedPropertiesCollection");
    lar_true_installed(w);
    category_handler(
        w,
        &[
            ("CategoryType", "Company"),
            ("ProhibitsSubcategories", "false"),
            ("ProhibitsUpdates", "true"),
            ("DisplayOrder", "1"),
        ],
        false,
    );
    w.close("upd:Update");
}

/// Shaped like the real product family document (6964aab4…).
fn family(w: &mut Writer, base: &Base, revision: i32) {
    let id = base.id(Entity::Family).to_string();
    open_update(
        w,
        &[("xmlns:cat", NS_CAT), ("xmlns:lar", NS_LAR)],
        &id,
        revision,
    );
    category_properties(w, base);
    w.open("upd:LocalizedPropertiesCollection");
    for lang in ["de", "en", "fr"] {
        localized(
            w,
            lang,
            "Outpost Lab Windows & Tools",
            Some("Outpost Lab Windows & Tools"),
        );
    }
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    at_least_one(w, true, base.id(Entity::Company));
    w.close("upd:Prerequisites").close("upd:Relationships");
    lar_true_installed(w);
    category_handler(
        w,
        &[
            ("CategoryType", "ProductFamily"),
            ("ProhibitsSubcategories", "false"),
            ("ProhibitsUpdates", "true"),
            ("DisplayOrder", "2"),
        ],
        false,
    );
    w.close("upd:Update");
}

/// Shaped like the real product document (dd78b8a1…): a `bar:WindowsVersion` rule and
/// prefixes re-declared on inner elements.
fn product(w: &mut Writer, base: &Base, n: u8, revision: i32) {
    let id = base.id(Entity::Product(n)).to_string();
    open_update(
        w,
        &[
            ("xmlns:pub", NS_PUB),
            ("xmlns:bar", NS_BAR),
            ("xmlns:cat", NS_CAT),
        ],
        &id,
        revision,
    );
    w.open_attrs(
        "upd:Properties",
        &[
            ("DefaultPropertiesLanguage", "en"),
            ("UpdateType", "Category"),
            ("ExplicitlyDeployable", "false"),
            ("PerUser", "false"),
            ("IsPublic", "true"),
            ("Handler", NS_CAT),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    let name = PRODUCTS[usize::from(n) % PRODUCTS.len()];
    localized(w, "en", name, Some(&format!("Updates for {name}.")));
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    at_least_one(w, true, base.id(Entity::Family));
    w.close("upd:Prerequisites")
        .close("upd:Relationships")
        .open("upd:ApplicabilityRules")
        .open("upd:IsInstalled")
        .empty_attrs(
            "bar:WindowsVersion",
            &[
                ("Comparison", "GreaterThanOrEqualTo"),
                ("MajorVersion", "10"),
                ("MinorVersion", "0"),
                ("ProductType", "1"),
                ("xmlns:bar", NS_BAR),
            ],
        )
        .close("upd:IsInstalled")
        .close("upd:ApplicabilityRules")
        .open_attrs(
            "upd:HandlerSpecificData",
            &[
                ("xsi:type", "cat:Category"),
                ("xmlns:xsi", NS_XSI),
                ("xmlns:pub", NS_PUB),
            ],
        )
        .empty_attrs(
            "cat:CategoryInformation",
            &[
                ("CategoryType", "Product"),
                ("ProhibitsSubcategories", "true"),
                ("ExcludedByDefault", "false"),
                ("xmlns:cat", NS_CAT),
            ],
        )
        .close("upd:HandlerSpecificData")
        .close("upd:Update");
}

fn classification(w: &mut Writer, base: &Base, c: Class, revision: i32) {
    let id = c.id().to_string();
    open_update(
        w,
        &[("xmlns:pub", NS_PUB), ("xmlns:cat", NS_CAT)],
        &id,
        revision,
    );
    category_properties(w, base);
    w.open("upd:LocalizedPropertiesCollection");
    localized(w, "en", c.title(), Some(&format!("{} (lab).", c.title())));
    if revision > 1 {
        localized(w, "de", c.title(), None);
    }
    w.close("upd:LocalizedPropertiesCollection");
    category_handler(
        w,
        &[
            ("CategoryType", "UpdateClassification"),
            ("ProhibitsSubcategories", "true"),
            ("ProhibitsUpdates", "false"),
        ],
        true,
    );
    w.close("upd:Update");
}

fn detectoid(w: &mut Writer, base: &Base, revision: i32) {
    let id = base.id(Entity::Detectoid).to_string();
    open_update(
        w,
        &[("xmlns:pub", NS_PUB), ("xmlns:bar", NS_BAR)],
        &id,
        revision,
    );
    w.open_attrs(
        "upd:Properties",
        &[
            ("UpdateType", "Detectoid"),
            ("DefaultPropertiesLanguage", "en"),
            ("IsPublic", "true"),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    localized(w, "en", "Outpost Lab x64-based systems", None);
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:ApplicabilityRules")
        .open("upd:IsInstalled")
        .empty_attrs("bar:Processor", &[("Architecture", "9")])
        .close("upd:IsInstalled")
        .close("upd:ApplicabilityRules")
        .close("upd:Update");
}

/// `upd:Files` with one file, SHA-1 in `@Digest` and SHA-256 as `AdditionalDigest`.
fn files(w: &mut Writer, file: Option<&UpdateFile>) {
    let Some(f) = file else { return };
    let size = f.size.to_string();
    w.open("upd:Files").open_attrs(
        "upd:File",
        &[
            ("Digest", &f.sha1.to_base64()),
            ("DigestAlgorithm", "SHA1"),
            ("FileName", &f.name),
            ("Size", &size),
            ("Modified", f.modified.as_deref().unwrap_or(CREATED)),
        ],
    );
    if let Some(sha256) = &f.sha256 {
        w.open_attrs("upd:AdditionalDigest", &[("Algorithm", "SHA256")])
            .text(&sha256.to_base64())
            .close("upd:AdditionalDigest");
    }
    w.close("upd:File").close("upd:Files");
}

fn command_line(w: &mut Writer, file: Option<&UpdateFile>) {
    let program = file.map(|f| f.name.as_str()).unwrap_or("setup.exe");
    w.open_attrs(
        "upd:HandlerSpecificData",
        &[
            ("xsi:type", "cmd:CommandLineInstallation"),
            ("xmlns:xsi", NS_XSI),
        ],
    )
    .open_attrs(
        "cmd:InstallCommand",
        &[("Program", program), ("Arguments", "/quiet /norestart")],
    )
    .empty_attrs(
        "cmd:ReturnCode",
        &[("Code", "0"), ("Result", "Succeeded"), ("Reboot", "false")],
    )
    .close("cmd:InstallCommand")
    .close("upd:HandlerSpecificData");
}

/// Plain updates, the superseding pair and the expired update (the §5.6 template).
fn software(w: &mut Writer, base: &Base, e: Entity, revision: i32, file: Option<&UpdateFile>) {
    let (kb, label) = match e {
        Entity::Plain(i) => (FIRST_KB + i as u64, format!("#{i}")),
        Entity::Superseded => (5_090_001, "(superseded)".into()),
        Entity::Superseder => (5_090_002, "(superseding)".into()),
        _ => (5_090_003, "(expiring)".into()),
    };
    let expired = e == Entity::Expired && revision >= 201;
    let class = e.class();
    let product = PRODUCTS[usize::from(e.product())];
    let id = base.id(e).to_string();
    open_update(
        w,
        &[
            ("xmlns:pub", NS_PUB),
            ("xmlns:lar", NS_LAR),
            ("xmlns:cmd", NS_CMD),
        ],
        &id,
        revision,
    );
    let size = file.map(|f| f.size).unwrap_or(0).to_string();
    let eula = base.eula().to_string();
    let publisher = publisher(base);
    let mut props: Vec<(&str, &str)> = vec![
        ("DefaultPropertiesLanguage", "en"),
        ("UpdateType", "Software"),
        ("ExplicitlyDeployable", "true"),
        ("AutoSelectOnWebSites", "true"),
    ];
    if class == Class::Security {
        props.push(("MsrcSeverity", "Important"));
    }
    props.extend([
        (
            "PublicationState",
            if expired { "Expired" } else { "Published" },
        ),
        ("CreationDate", CREATED),
        ("PublisherID", &publisher),
        ("Handler", NS_CMD),
        ("MaxDownloadSize", &size),
        ("MinDownloadSize", "0"),
    ]);
    if e == Entity::Superseder {
        props.push(("EulaID", &eula));
    }
    let kb_text = kb.to_string();
    w.open_attrs("upd:Properties", &props)
        .empty_attrs(
            "upd:InstallationBehavior",
            &[("RebootBehavior", "CanRequestReboot")],
        )
        .leaf("upd:KBArticleID", &kb_text)
        .leaf(
            "upd:MoreInfoUrl",
            format!("https://lab.example.invalid/kb{kb}"),
        )
        .close("upd:Properties")
        .open("upd:LocalizedPropertiesCollection");
    let title = format!("{}: {product} (KB{kb}) {label}", class.title());
    let mut description = format!("Lab update {label}: fixes \"A\" & <B>.");
    if matches!(e, Entity::Plain(i) if is_padded(i)) {
        description.push(' ');
        description.push_str(&PADDING.repeat(20));
    }
    localized(w, "en", &title, Some(&description));
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    identity_ref(w, base.id(Entity::Detectoid));
    at_least_one(w, true, base.id(Entity::Product(e.product())));
    at_least_one(w, true, class.id());
    w.close("upd:Prerequisites");
    if e == Entity::Superseder {
        w.open("upd:SupersededUpdates");
        identity_ref(w, base.id(Entity::Superseded));
        w.close("upd:SupersededUpdates");
    }
    w.close("upd:Relationships");
    lar_installable(w);
    files(w, file);
    command_line(w, file);
    w.close("upd:Update");
}

/// The top-level bundle, shaped like KB2267602 (a2fef9b0…): no handler, no rules, no files.
fn bundle(w: &mut Writer, base: &Base, revision: i32) {
    let id = base.id(Entity::Bundle).to_string();
    open_update(w, &[("xmlns:pub", NS_PUB)], &id, revision);
    w.open_attrs(
        "upd:Properties",
        &[
            ("UpdateType", "Software"),
            ("DefaultPropertiesLanguage", "en"),
            ("AutoSelectOnWebSites", "true"),
            ("ExplicitlyDeployable", "true"),
            ("MaxDownloadSize", "0"),
            ("MinDownloadSize", "0"),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .leaf("upd:SupportUrl", "https://support.example.invalid/bundle")
    .leaf("upd:KBArticleID", "5090010")
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    localized(
        w,
        "en",
        "Outpost Lab Cumulative Bundle (KB5090010)",
        Some("Installs the lab bundle members."),
    );
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    at_least_one(w, true, base.id(Entity::Product(Entity::Bundle.product())));
    at_least_one(w, true, Entity::Bundle.class().id());
    w.close("upd:Prerequisites");
    bundled(
        w,
        &[
            member(base, Entity::BundleChild(0)),
            member(base, Entity::NestedBundle),
        ],
    );
    w.close("upd:Relationships").close("upd:Update");
}

/// The file-less "HIDDEN:" bundle inside the bundle (like ccb78947…): categories in plain
/// `AtLeastOne` groups, its member holds the file.
fn nested_bundle(w: &mut Writer, base: &Base, revision: i32) {
    let id = base.id(Entity::NestedBundle).to_string();
    open_update(w, &[("xmlns:pub", NS_PUB)], &id, revision);
    w.open_attrs(
        "upd:Properties",
        &[
            ("UpdateType", "Software"),
            ("DefaultPropertiesLanguage", "en"),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    localized(w, "en", "HIDDEN: Outpost Lab bundle part 2", None);
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    at_least_one(w, false, Entity::NestedBundle.class().id());
    at_least_one(
        w,
        false,
        base.id(Entity::Product(Entity::NestedBundle.product())),
    );
    w.close("upd:Prerequisites");
    bundled(w, &[member(base, Entity::BundleChild(1))]);
    w.close("upd:Relationships").close("upd:Update");
}

fn member(base: &Base, e: Entity) -> RevisionId {
    RevisionId::new(base.id(e), e.revisions()[0])
}

/// A file-carrying bundle member (like 266f6222…/ff36f0b5…): not explicitly deployable,
/// product in a plain `AtLeastOne`.
fn bundle_member(w: &mut Writer, base: &Base, n: u8, revision: i32, file: Option<&UpdateFile>) {
    let e = Entity::BundleChild(n);
    let id = base.id(e).to_string();
    open_update(
        w,
        &[
            ("xmlns:pub", NS_PUB),
            ("xmlns:lar", NS_LAR),
            ("xmlns:cmd", NS_CMD),
        ],
        &id,
        revision,
    );
    let size = file.map(|f| f.size).unwrap_or(0).to_string();
    w.open_attrs(
        "upd:Properties",
        &[
            ("UpdateType", "Software"),
            ("DefaultPropertiesLanguage", "en"),
            ("Handler", NS_CMD),
            ("MaxDownloadSize", &size),
            ("MinDownloadSize", "0"),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
        ],
    )
    .empty_attrs("upd:InstallationBehavior", &[("Impact", "Minor")])
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    localized(w, "en", &format!("Outpost Lab bundle part {}", n + 1), None);
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    identity_ref(w, base.id(Entity::Detectoid));
    at_least_one(w, false, base.id(Entity::Product(e.product())));
    w.close("upd:Prerequisites").close("upd:Relationships");
    lar_installable(w);
    files(w, file);
    command_line(w, file);
    w.close("upd:Update");
}

/// A driver: `UpdateType="Driver"`, Drivers classification, `drv:WindowsDriverMetaData`.
fn driver(w: &mut Writer, base: &Base, n: u8, revision: i32, file: Option<&UpdateFile>) {
    let e = Entity::Driver(n);
    let id = base.id(e).to_string();
    open_update(
        w,
        &[("xmlns:pub", NS_PUB), ("xmlns:drv", NS_DRV)],
        &id,
        revision,
    );
    let size = file.map(|f| f.size).unwrap_or(0).to_string();
    w.open_attrs(
        "upd:Properties",
        &[
            ("DefaultPropertiesLanguage", "en"),
            ("UpdateType", "Driver"),
            ("ExplicitlyDeployable", "true"),
            ("AutoSelectOnWebSites", "false"),
            ("IsPublic", "false"),
            ("PublicationState", "Published"),
            ("CreationDate", CREATED),
            ("PublisherID", &publisher(base)),
            ("Handler", NS_DRV),
            ("MaxDownloadSize", &size),
            ("MinDownloadSize", "0"),
        ],
    )
    .empty_attrs(
        "upd:InstallationBehavior",
        &[("RebootBehavior", "NeverReboots")],
    )
    .close("upd:Properties")
    .open("upd:LocalizedPropertiesCollection");
    localized(
        w,
        "en",
        &format!("Outpost Lab - Net - Lab Network Adapter {}", n + 1),
        Some("Synthetic driver from the Outpost lab."),
    );
    w.close("upd:LocalizedPropertiesCollection")
        .open("upd:Relationships")
        .open("upd:Prerequisites");
    at_least_one(w, true, base.id(Entity::Product(e.product())));
    at_least_one(w, true, e.class().id());
    w.close("upd:Prerequisites").close("upd:Relationships");
    let hardware_id = format!("PCI\\VEN_1AB8&DEV_400{n}");
    let version = format!("1.0.{n}.0");
    w.open("upd:ApplicabilityRules")
        .open("upd:Metadata")
        .empty_attrs(
            "drv:WindowsDriverMetaData",
            &[
                ("HardwareID", &hardware_id),
                ("WhqlDriverID", "lab-whql-1"),
                ("Manufacturer", "Outpost Lab"),
                ("Company", "Outpost Lab"),
                ("Provider", "Outpost Lab"),
                ("Model", "Lab Network Adapter"),
                ("Class", "Net"),
                ("DriverVerDate", "2024-03-01"),
                ("DriverVerVersion", &version),
            ],
        )
        .close("upd:Metadata")
        .close("upd:ApplicabilityRules");
    files(w, file);
    w.empty_attrs(
        "upd:HandlerSpecificData",
        &[("xsi:type", "drv:WindowsDriver"), ("xmlns:xsi", NS_XSI)],
    )
    .close("upd:Update");
}
