"""The sample world: a little province's traceable movements over three weeks, and who reports each.

Everything is made up (the "某" in names is on purpose) and deterministic: the
same code always yields the same world, so the exported platform files, the
expected-merges list and the end-to-end test agree.

A :class:`Movement` is one physical thing that happened (a shipment, a receipt,
a harvest, a packing). Each platform that records it has a :class:`Report`
with that platform's own record id and its habits: clock skew, its own unit,
fields it leaves empty. A movement reported by two or more platforms must be
merged by the bus into one observation (the expected merges). A movement with
``near_miss_of`` resembles another one — same trace code, another destination,
another day or the other end of the shipment — and must *not* merge with it.

Chains (which departments see what):

* ``pork``: pig farm → slaughterhouse (MARA, animal quarantine) → slaughter (MARA) → wholesale market
  (MARA and MOFCOM: merge) → receipt at the market (MOFCOM) → retail stalls (MOFCOM, 卡单同行);
* ``veg``: harvest with a compliance certificate 合格证 (MARA) → 产地准出 shipment to the market (MARA)
  → receipt at the market (MOFCOM and SAMR's 进货台账: merge);
* ``formula``: production batch with raw-milk sources (MIIT) → shipment to a distributor (MIIT and
  SAMR's 销货台账: merge) → receipt at the distributor (SAMR);
* ``herb``: planting and harvest (NATCM) → primary processing (NATCM) → slices 饮片 (NATCM) → shipment
  to a hospital pharmacy (NATCM and NMPA: merge);
* ``drug``: units packed into middle packs into cases (NMPA, 20-digit drug trace codes) → cases shipped
  to a distributor (NMPA) → to a pharmacy (NMPA);
* ``import``: frozen beef cleared at Ningbo (GACC declaration, origin country, quarantine certificate) and
  received by the importer (GACC and SAMR's 进货台账: merge) → shipped to the wholesale market (SAMR).

One record is broken on purpose: a MOFCOM stall shipment whose trace code the
market's operator left out (it ends in the dead-letter topic, reason
``missing-field``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from schemas.identifiers.uscc import check_character, organisation_check_character

START: Final = date(2026, 11, 2)
DAYS: Final = 21
SEED: Final = 20261102


def make_uscc(head: str, area: str, body: str) -> str:
    """A valid USCC: registration authority and category (``head``), area code, organisation body (8)."""
    organisation = body + organisation_check_character(body)
    first = head + area + organisation
    return first + check_character(first)


def id_number(area: str, birth: str, sequence: str) -> str:
    """A well-formed resident ID number (GB 11643, mod 11-2 check); made up, as every person here."""
    body = area + birth + sequence
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


@dataclass(frozen=True)
class Business:
    key: str
    uscc: str
    name: str
    role: str
    region_code: str
    natural_person: bool = False
    person_id_number: str | None = None
    person_phone: str | None = None
    licence: str | None = None
    """e.g. the SC food production / JY food business licence number, or a drug licence."""


@dataclass(frozen=True)
class Product:
    key: str
    code: str
    """GTIN (14 digits) where the product has one, else the platform's product code."""
    name: str
    category: str
    spec: str


@dataclass(frozen=True)
class Certificate:
    kind: str
    """animal-quarantine, meat-quality, compliance (合格证), origin, test-report, import-quarantine."""
    number: str
    issuer: str | None = None


@dataclass(frozen=True)
class Report:
    platform: str
    """The department whose platform records the movement (MARA, MIIT, SAMR, NATCM, NMPA, GACC, MOFCOM)."""
    record_id: str
    """The platform's own record id."""
    skew_minutes: int = 0
    """The platform's clock, or its operator, is this far off the true time."""
    unit: str | None = None
    """The unit the platform writes the quantity in, when not the movement's own."""
    missing: frozenset[str] = frozenset()
    """Fields the platform leaves empty for this record (e.g. ``source_name``)."""


@dataclass(frozen=True)
class Movement:
    id: str
    chain: str
    step: str
    """CBV business step, bare: commissioning, shipping, receiving, packing, transforming."""
    time: datetime
    """True local time (China time, no offset)."""
    product: Product
    trace_code: str
    batch: str
    producer: Business
    quantity: Decimal
    unit: str
    """The unit as the movement's first platform writes it (头, 公斤, 罐, 箱, 盒 …)."""
    reports: tuple[Report, ...]
    location: Business
    """Where it happened (the reporting business)."""
    source: Business | None = None
    destination: Business | None = None
    certificates: tuple[Certificate, ...] = ()
    input_batches: tuple[str, ...] = ()
    """Transformations: the batches consumed."""
    children: tuple[str, ...] = ()
    """Packing: the codes packed (drug trace codes), ``trace_code`` being the package's code."""
    suppliers: tuple[Business, ...] = ()
    """Infant formula: raw-milk sources."""
    origin_country: str | None = None
    voucher: str | None = None
    """Transaction voucher (交易凭证) number travelling with the goods (卡单同行)."""
    plot: str | None = None
    near_miss_of: str | None = None
    near_miss_kind: str | None = None

    def reported_time(self, report: Report) -> datetime:
        return self.time + timedelta(minutes=report.skew_minutes)


@dataclass
class World:
    businesses: dict[str, Business] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)

    def reports_of(self, platform: str) -> list[tuple[Movement, Report]]:
        return [(m, r) for m in self.movements for r in m.reports if r.platform == platform]

    def expected_merges(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(movement id, [(platform, record id), …]) for every movement reported by two or more platforms."""
        return [(m.id, [(r.platform, r.record_id) for r in m.reports]) for m in self.movements if len(m.reports) > 1]


def _businesses() -> dict[str, Business]:
    entries = [
        Business(
            "slaughterhouse",
            "91350200776049653A",
            "杭州萧山某肉类加工有限公司",
            "slaughterhouse",
            "330109",
            licence="SC10433010900123",
        ),
        Business(
            "market",
            "91440101MA5CJQ4N59",
            "杭州某农副产品批发市场",
            "wholesale-market",
            "330102",
            licence="JY13301020012345",
        ),
        Business("veg-coop", "93330109MA2B00027Q", "杭州萧山某蔬菜专业合作社", "producer", "330109"),
        Business(
            "farmer-wang",
            "92330109MA2B00043H",
            "王某某（个体蔬菜种植户）",
            "producer",
            "330109",
            natural_person=True,
            person_id_number=id_number("330109", "19680412", "231"),
            person_phone="13905710043",
        ),
        Business("pharma", "91330110MA2B00051W", "浙江某制药有限公司", "manufacturer", "330110", licence="浙20000123"),
        Business(
            "dairy", "91230103MA2B0006XR", "黑龙江某乳业有限公司", "manufacturer", "230103", licence="SC10523010300456"
        ),
        Business(
            "importer",
            "91330206MA2B000781",
            "宁波某进出口贸易有限公司",
            "importer",
            "330206",
            licence="JY13302060034567",
        ),
        Business("herb-coop", "93330727MA2B00086W", "磐安县某中药材专业合作社", "producer", "330727"),
        Business("pig-farm", make_uscc("91", "330109", "MA2B0009"), "杭州萧山某生猪养殖场", "breeder", "330109"),
        Business(
            "market-b",
            make_uscc("91", "330110", "MA2B0010"),
            "杭州余杭某农产品批发市场",
            "wholesale-market",
            "330110",
            licence="JY13301100022222",
        ),
        Business(
            "stall-li",
            make_uscc("92", "330102", "MA2B0011"),
            "李某某（个体猪肉摊位）",
            "retailer",
            "330102",
            natural_person=True,
            person_id_number=id_number("330102", "19750903", "512"),
            person_phone="13588120011",
        ),
        Business(
            "stall-zhao",
            make_uscc("92", "330102", "MA2B0012"),
            "赵某某（个体猪肉摊位）",
            "retailer",
            "330102",
            natural_person=True,
            person_id_number=id_number("330102", "19820117", "045"),
            person_phone="13757160012",
        ),
        Business(
            "formula-distributor",
            make_uscc("91", "330106", "MA2B0013"),
            "杭州某母婴用品商贸有限公司",
            "distributor",
            "330106",
            licence="JY13301060056789",
        ),
        Business(
            "raw-milk-farm", make_uscc("93", "230103", "MA2B0014"), "黑龙江某奶牛养殖专业合作社", "supplier", "230103"
        ),
        Business(
            "herb-processor",
            make_uscc("91", "330727", "MA2B0015"),
            "磐安县某中药饮片有限公司",
            "manufacturer",
            "330727",
            licence="浙20000456",
        ),
        Business("hospital", make_uscc("12", "330102", "MA2B0016"), "杭州市某中医院", "hospital", "330102"),
        Business(
            "drug-distributor",
            make_uscc("91", "330108", "MA2B0017"),
            "浙江某医药有限公司",
            "distributor",
            "330108",
            licence="浙AA5710001",
        ),
        Business(
            "pharmacy",
            make_uscc("91", "330105", "MA2B0018"),
            "杭州某大药房连锁有限公司",
            "retailer",
            "330105",
            licence="浙CB5710002",
        ),
    ]
    return {b.key: b for b in entries}


def _products() -> dict[str, Product]:
    entries = [
        Product("live-pig", "LIVE-PIG", "生猪", "0101", "活体 按头计"),
        Product("pork", "06901234123456", "白条猪肉（片猪肉）", "0101", "冷鲜 按重量计"),
        Product("greens", "06905555008713", "萧山青菜", "0201", "散装 按重量计"),
        Product("formula", "06902468002005", "婴幼儿配方乳粉（0-6月龄 1段）", "0401", "800g/罐"),
        Product("formula-case", "16902468002002", "婴幼儿配方乳粉（0-6月龄 1段）整箱", "0401", "800g×6罐/箱"),
        Product("herb", "06908888001017", "浙贝母（统货）", "0301", "1kg/袋"),
        Product("herb-slices", "06908888002014", "浙贝母饮片", "0302", "500g/袋"),
        Product("drug", "06909999120017", "阿莫西林胶囊", "0501", "0.25g×24粒/盒"),
        Product("beef", "06903333005558", "进口冷冻去骨牛肉", "0601", "20kg/箱"),
    ]
    return {p.key: p for p in entries}


class _Builder:
    def __init__(self) -> None:
        self.world = World(_businesses(), _products())
        self.rng = random.Random(SEED)
        self.counters: dict[str, int] = {}

    def next_id(self, prefix: str) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]:05d}"

    def at(self, day: date, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute)

    def add(self, movement: Movement) -> Movement:
        self.world.movements.append(movement)
        return movement

    def report(self, platform: str, prefix: str, **habits: object) -> Report:
        return Report(platform, self.next_id(prefix), **habits)  # type: ignore[arg-type]


def build_world() -> World:
    b = _Builder()
    w = b.world
    biz, prod = w.businesses, w.products
    days = [START + timedelta(days=n) for n in range(DAYS)]

    # --- pork: every other day a lot of pigs is slaughtered and the carcasses go to the wholesale market
    for index, day in enumerate(days[::2]):
        tag = day.strftime("%Y%m%d")
        heads = b.rng.randint(18, 30)
        kg = Decimal(heads * b.rng.randint(68, 80)) + Decimal("0.5")
        quarantine = Certificate("animal-quarantine", f"3301{tag}{index:04d}", "萧山区动物卫生监督所")
        quality = Certificate("meat-quality", f"ZJ-HZ-{tag}-{index:04d}")
        live_batch = f"SZ-{tag}-{index:02d}"
        carcass = f"TZ-{tag}-{index:02d}"
        b.add(
            Movement(
                b.next_id("M"),
                "pork",
                "shipping",
                b.at(day, 3, 40),
                prod["live-pig"],
                live_batch,
                live_batch,
                biz["pig-farm"],
                Decimal(heads),
                "头",
                (b.report("MARA", "MARA-AQ-"),),
                biz["pig-farm"],
                biz["pig-farm"],
                biz["slaughterhouse"],
                (quarantine,),
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "pork",
                "commissioning",
                b.at(day, 5, 10),
                prod["pork"],
                carcass,
                carcass,
                biz["slaughterhouse"],
                kg,
                "公斤",
                (b.report("MARA", "MARA-SL-"),),
                biz["slaughterhouse"],
                certificates=(quarantine, quality),
                input_batches=(live_batch,),
            )
        )
        shipped = (kg * Decimal("0.8")).quantize(Decimal("0.1"))
        voucher = f"PF-{tag}-{index:06d}"
        main = b.add(
            Movement(
                b.next_id("M"),
                "pork",
                "shipping",
                b.at(day, 6, 30),
                prod["pork"],
                carcass,
                carcass,
                biz["slaughterhouse"],
                shipped,
                "公斤",
                (b.report("MOFCOM", "MOFCOM-OUT-"), b.report("MARA", "MARA-OUT-", skew_minutes=12 + index)),
                biz["slaughterhouse"],
                biz["slaughterhouse"],
                biz["market"],
                (quarantine, quality),
                voucher=voucher,
            )
        )
        rest = kg - shipped
        if index % 3 == 1:  # near miss: the rest of the lot to another market, seen by MOFCOM only
            b.add(
                Movement(
                    b.next_id("M"),
                    "pork",
                    "shipping",
                    b.at(day, 7, 5),
                    prod["pork"],
                    carcass,
                    carcass,
                    biz["slaughterhouse"],
                    rest,
                    "公斤",
                    (b.report("MOFCOM", "MOFCOM-OUT-"),),
                    biz["slaughterhouse"],
                    biz["slaughterhouse"],
                    biz["market-b"],
                    (quarantine, quality),
                    voucher=f"PF-{tag}-{index + 500:06d}",
                    near_miss_of=main.id,
                    near_miss_kind="near-dest",
                )
            )
        b.add(
            Movement(
                b.next_id("M"),
                "pork",
                "receiving",
                b.at(day, 7, 50),
                prod["pork"],
                carcass,
                carcass,
                biz["slaughterhouse"],
                shipped,
                "公斤",
                (b.report("MOFCOM", "MOFCOM-IN-"),),
                biz["market"],
                biz["slaughterhouse"],
                biz["market"],
                (quarantine, quality),
                voucher=voucher,
                near_miss_of=main.id,
                near_miss_kind="counterpart",
            )
        )
        for stall in ("stall-li", "stall-zhao"):
            part = Decimal(b.rng.randint(60, 140))
            # once, the market's operator leaves the trace code out: the record cannot be traced (a dead letter)
            forgot = frozenset({"trace_code"}) if index == 2 and stall == "stall-zhao" else frozenset()
            b.add(
                Movement(
                    b.next_id("M"),
                    "pork",
                    "shipping",
                    b.at(day, 9, b.rng.randint(0, 59)),
                    prod["pork"],
                    carcass,
                    carcass,
                    biz["slaughterhouse"],
                    part,
                    "公斤",
                    (b.report("MOFCOM", "MOFCOM-OUT-", missing=forgot),),
                    biz["market"],
                    biz["market"],
                    biz[stall],
                    (quarantine, quality),
                    voucher=f"LS-{tag}-{stall[-3:]}",
                )
            )

    # --- vegetables: harvests with a 合格证, shipped to the market, received there (MOFCOM and SAMR both)
    for index, day in enumerate(days):
        grower = biz["farmer-wang"] if index % 4 == 3 else biz["veg-coop"]
        tag = day.strftime("%Y%m%d")
        compliance = Certificate("compliance", f"HGZ{tag}{index:03d}", grower.name)
        trace = f"HGZ{tag}{index:03d}"
        batch = f"QC-{tag}-{index:02d}"
        kg = Decimal(b.rng.randint(120, 400))
        b.add(
            Movement(
                b.next_id("M"),
                "veg",
                "commissioning",
                b.at(day, 5, 0),
                prod["greens"],
                trace,
                batch,
                grower,
                kg,
                "公斤",
                (b.report("MARA", "MARA-HGZ-"),),
                grower,
                certificates=(compliance,),
                plot=f"萧山区益农镇{index % 5 + 1}号地块",
            )
        )
        out = b.add(
            Movement(
                b.next_id("M"),
                "veg",
                "shipping",
                b.at(day, 6, 15),
                prod["greens"],
                trace,
                batch,
                grower,
                kg,
                "公斤",
                (b.report("MARA", "MARA-ZC-"),),
                grower,
                grower,
                biz["market"],
                (compliance,),
            )
        )
        first_part = kg if index % 5 != 2 else (kg / 2).quantize(Decimal(1))
        received = b.add(
            Movement(
                b.next_id("M"),
                "veg",
                "receiving",
                b.at(day, 8, 20),
                prod["greens"],
                trace,
                batch,
                grower,
                first_part,
                "公斤",
                (
                    b.report("MOFCOM", "MOFCOM-IN-"),
                    b.report("SAMR", "SAMR-JH-", skew_minutes=95, unit="斤", missing=frozenset({"source_name"})),
                ),
                biz["market"],
                grower,
                biz["market"],
                (compliance,),
                near_miss_of=out.id,
                near_miss_kind="counterpart",
            )
        )
        if index % 5 == 2:  # the rest arrives the next day (26 h later): another observation, seen by SAMR only
            b.add(
                Movement(
                    b.next_id("M"),
                    "veg",
                    "receiving",
                    b.at(day, 8, 20) + timedelta(hours=26),
                    prod["greens"],
                    trace,
                    batch,
                    grower,
                    kg - first_part,
                    "公斤",
                    (b.report("SAMR", "SAMR-JH-", unit="斤"),),
                    biz["market"],
                    grower,
                    biz["market"],
                    (compliance,),
                    near_miss_of=received.id,
                    near_miss_kind="near-window",
                )
            )

    # --- infant formula: weekly batches, shipped to the Hangzhou distributor, received there
    for index, day in enumerate(days[1::7]):
        tag = day.strftime("%Y%m%d")
        batch = f"RF{tag}A"
        tins = Decimal(b.rng.choice((1200, 1800, 2400)))
        b.add(
            Movement(
                b.next_id("M"),
                "formula",
                "commissioning",
                b.at(day, 14, 0),
                prod["formula"],
                batch,
                batch,
                biz["dairy"],
                tins,
                "罐",
                (b.report("MIIT", "MIIT-PB-"),),
                biz["dairy"],
                certificates=(Certificate("test-report", f"JC-{tag}-{index:03d}", "某乳品检验中心"),),
                suppliers=(biz["raw-milk-farm"],),
            )
        )
        cases = (tins / 6).quantize(Decimal(1))
        ship_day = day + timedelta(days=2)
        b.add(
            Movement(
                b.next_id("M"),
                "formula",
                "shipping",
                b.at(ship_day, 10, 0),
                prod["formula"],
                batch,
                batch,
                biz["dairy"],
                tins,
                "罐",
                (b.report("MIIT", "MIIT-SH-"), b.report("SAMR", "SAMR-XH-", skew_minutes=-7, unit="箱")),
                biz["dairy"],
                biz["dairy"],
                biz["formula-distributor"],
                voucher=f"FH-{tag}-{index:03d}",
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "formula",
                "receiving",
                b.at(ship_day + timedelta(days=2), 15, 30),
                prod["formula-case"],
                batch,
                batch,
                biz["dairy"],
                cases,
                "箱",
                (b.report("SAMR", "SAMR-JH-"),),
                biz["formula-distributor"],
                biz["dairy"],
                biz["formula-distributor"],
            )
        )

    # --- herbs: one harvest, primary processing, slices, shipments to the hospital pharmacy
    harvest_day = days[0]
    fresh, dried, slices = "ZBM-2026-XS01", "ZBM-2026-GP01", "ZBMYP-20261110"
    b.add(
        Movement(
            b.next_id("M"),
            "herb",
            "commissioning",
            b.at(harvest_day, 9, 0),
            prod["herb"],
            fresh,
            fresh,
            biz["herb-coop"],
            Decimal(2400),
            "公斤",
            (b.report("NATCM", "NATCM-ZZ-"),),
            biz["herb-coop"],
            certificates=(Certificate("origin", "PA-ZBM-2026-001", "磐安县农业农村局"),),
            plot="磐安县新渥镇浙贝母基地3号",
        )
    )
    b.add(
        Movement(
            b.next_id("M"),
            "herb",
            "transforming",
            b.at(days[3], 10, 0),
            prod["herb"],
            dried,
            dried,
            biz["herb-coop"],
            Decimal(800),
            "公斤",
            (b.report("NATCM", "NATCM-CJG-"),),
            biz["herb-coop"],
            input_batches=(fresh,),
        )
    )
    b.add(
        Movement(
            b.next_id("M"),
            "herb",
            "shipping",
            b.at(days[5], 8, 30),
            prod["herb"],
            dried,
            dried,
            biz["herb-coop"],
            Decimal(800),
            "公斤",
            (b.report("NATCM", "NATCM-XS-"),),
            biz["herb-coop"],
            biz["herb-coop"],
            biz["herb-processor"],
        )
    )
    b.add(
        Movement(
            b.next_id("M"),
            "herb",
            "transforming",
            b.at(days[8], 9, 0),
            prod["herb-slices"],
            slices,
            slices,
            biz["herb-processor"],
            Decimal(1400),
            "袋",
            (b.report("NATCM", "NATCM-YP-"),),
            biz["herb-processor"],
            input_batches=(dried,),
            certificates=(Certificate("test-report", "YP-JC-20261110", "磐安县某中药饮片有限公司质检部"),),
        )
    )
    for n, day in enumerate(days[10::4]):
        b.add(
            Movement(
                b.next_id("M"),
                "herb",
                "shipping",
                b.at(day, 13, 0),
                prod["herb-slices"],
                slices,
                slices,
                biz["herb-processor"],
                Decimal(200 + 50 * n),
                "袋",
                (b.report("NATCM", "NATCM-XS-"), b.report("NMPA", "NMPA-YP-", skew_minutes=3)),
                biz["herb-processor"],
                biz["herb-processor"],
                biz["hospital"],
            )
        )

    # --- drugs: cases of 10 middle packs of 10 boxes, shipped to the distributor, then to the pharmacy
    for n, day in enumerate(days[2::6]):
        prefix = "8100000"  # the product's 7-character drug identification code
        case_code = f"{prefix}{2000 + n:09d}{3:04d}"
        middles = tuple(f"{prefix}{1000 + n * 10 + m:09d}{2:04d}" for m in range(2))
        units = tuple(f"{prefix}{n * 100 + m:09d}{1:04d}" for m in range(4))
        batch = f"DY2611{n:02d}"
        b.add(
            Movement(
                b.next_id("M"),
                "drug",
                "packing",
                b.at(day, 11, 0),
                prod["drug"],
                middles[0],
                batch,
                biz["pharma"],
                Decimal(2),
                "盒",
                (b.report("NMPA", "NMPA-BZ-"),),
                biz["pharma"],
                children=units[:2],
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "drug",
                "packing",
                b.at(day, 11, 1),
                prod["drug"],
                middles[1],
                batch,
                biz["pharma"],
                Decimal(2),
                "盒",
                (b.report("NMPA", "NMPA-BZ-"),),
                biz["pharma"],
                children=units[2:],
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "drug",
                "packing",
                b.at(day, 11, 5),
                prod["drug"],
                case_code,
                batch,
                biz["pharma"],
                Decimal(1),
                "箱",
                (b.report("NMPA", "NMPA-BZ-"),),
                biz["pharma"],
                children=middles,
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "drug",
                "shipping",
                b.at(day, 16, 0),
                prod["drug"],
                case_code,
                batch,
                biz["pharma"],
                Decimal(1),
                "箱",
                (b.report("NMPA", "NMPA-FH-"),),
                biz["pharma"],
                biz["pharma"],
                biz["drug-distributor"],
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "drug",
                "shipping",
                b.at(day + timedelta(days=2), 9, 30),
                prod["drug"],
                case_code,
                batch,
                biz["pharma"],
                Decimal(1),
                "箱",
                (b.report("NMPA", "NMPA-FH-"),),
                biz["drug-distributor"],
                biz["drug-distributor"],
                biz["pharmacy"],
            )
        )

    # --- imports: frozen beef cleared at Ningbo and received by the importer, then sold to the market
    for n, day in enumerate(days[4::7]):
        declaration = f"310420261{n:09d}"
        batch = f"BR-AU-2611{n:02d}"
        cases = Decimal(b.rng.choice((400, 600, 800)))
        quarantine = Certificate("import-quarantine", f"NB-JY-2026-{n:05d}", "宁波海关")
        b.add(
            Movement(
                b.next_id("M"),
                "import",
                "receiving",
                b.at(day, 10, 30),
                prod["beef"],
                declaration,
                batch,
                biz["importer"],
                cases,
                "箱",
                (
                    b.report("GACC", "GACC-BG-"),
                    b.report("SAMR", "SAMR-JH-", skew_minutes=180, missing=frozenset({"origin_country"})),
                ),
                biz["importer"],
                None,
                biz["importer"],
                (quarantine,),
                origin_country="AU",
            )
        )
        b.add(
            Movement(
                b.next_id("M"),
                "import",
                "shipping",
                b.at(day + timedelta(days=1), 8, 0),
                prod["beef"],
                declaration,
                batch,
                biz["importer"],
                (cases / 4).quantize(Decimal(1)),
                "箱",
                (b.report("SAMR", "SAMR-XH-"),),
                biz["importer"],
                biz["importer"],
                biz["market"],
                (quarantine,),
            )
        )
    return w
