"""`medgym_bio` function templates over reads and alignments: CIGAR, FASTA/FASTQ, Phred qualities, N50."""

from __future__ import annotations

import random

from task_store.pack.bio_function_tasks import FunctionSpec, dna, messy_dna

CIGAR_OPS = "MIDNSHP=X"


def _cigar(rng: random.Random) -> str:
    return "".join(f"{rng.randint(1, 60)}{rng.choice('MMMIDSN=X')}" for _ in range(rng.randint(1, 6)))


def parse_cigar(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `parse_cigar(cigar)` that parses a SAM CIGAR string into a list of (length, operation) "
        f"pairs in order, e.g. '3M1I' -> [(3, 'M'), (1, 'I')]. Operations are the letters {CIGAR_OPS}; every "
        "operation needs a positive length before it. The unavailable CIGAR '*' and the empty string give []. "
        "Anything malformed (a missing or zero length, an unknown letter, trailing digits) raises ValueError."
    )
    reference = f'''import re


def parse_cigar(cigar):
    if cigar in ("", "*"):
        return []
    if not re.fullmatch(r"(?:[0-9]+[{CIGAR_OPS}])+", cigar):
        raise ValueError(f"malformed CIGAR {{cigar!r}}")
    pairs = [(int(n), op) for n, op in re.findall(r"([0-9]+)([{CIGAR_OPS}])", cigar)]
    if any(n == 0 for n, _ in pairs):
        raise ValueError("zero-length operation")
    return pairs
'''
    cases: list[tuple[object, ...]] = [("",), ("*",), ("10M",), ("M",), ("5M3",), ("0M",), ("3Q",), ("2S5M1D3M",)]
    cases += [(_cigar(rng),) for _ in range(6)]
    return FunctionSpec("parse_cigar", "cigar", statement, reference, cases, ("5S10M2I",))


def cigar_span(rng: random.Random) -> FunctionSpec:
    on_reference = rng.random() < 0.5
    if on_reference:
        what, ops = "reference bases the alignment covers", "M, D, N, = and X"
        consuming = "MDN=X"
    else:
        what, ops = "read (query) bases the CIGAR accounts for", "M, I, S, = and X"
        consuming = "MIS=X"
    statement = (
        f"Write a function `cigar_span(cigar)` that returns the number of {what}: the sum of the lengths of the "
        f"{ops} operations of a SAM CIGAR string (other operations do not count). The unavailable CIGAR '*' and "
        "the empty string give 0; a malformed CIGAR (missing length, unknown operation letter, trailing "
        f"digits) raises ValueError. Valid operation letters are {CIGAR_OPS}."
    )
    reference = f'''import re


def cigar_span(cigar):
    if cigar in ("", "*"):
        return 0
    if not re.fullmatch(r"(?:[0-9]+[{CIGAR_OPS}])+", cigar):
        raise ValueError(f"malformed CIGAR {{cigar!r}}")
    return sum(int(n) for n, op in re.findall(r"([0-9]+)([{CIGAR_OPS}])", cigar) if op in "{consuming}")
'''
    cases: list[tuple[object, ...]] = [("",), ("*",), ("4M2I3D",), ("5S10M5H",), ("3N",), ("M5",), ("1=1X1P",)]
    cases += [(_cigar(rng),) for _ in range(6)]
    return FunctionSpec("cigar_span", "cigar", statement, reference, cases, ("2S8M1I4M3D",))


def _fasta(rng: random.Random) -> str:
    lines = []
    for i in range(rng.randint(1, 4)):
        lines.append(f">seq{i + 1} sample {rng.randint(1, 99)}")
        lines += [messy_dna(rng, rng.randint(0, 30)) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            lines.append("")
    return "\n".join(lines) + "\n"


def parse_fasta(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `parse_fasta(text)` that parses FASTA text into a dict mapping each record's name (the "
        "first word after '>') to its sequence: all sequence lines of the record joined, uppercased, with "
        "surrounding whitespace removed. Blank lines are ignored. A record may have an empty sequence. Text "
        "before the first '>' line that is not blank raises ValueError; so does a repeated name."
    )
    reference = '''def parse_fasta(text):
    records = {}
    name = None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(">"):
            name = line[1:].split()[0] if line[1:].split() else ""
            if name in records:
                raise ValueError(f"repeated name {name!r}")
            records[name] = ""
        elif name is None:
            raise ValueError("sequence before the first header")
        else:
            records[name] += line.upper()
    return records
'''
    cases: list[tuple[object, ...]] = [("",), (">a\nACGT\n",), (">a desc\nac\n\ngt\n>b\n",), ("ACGT\n>a\nA\n",),
                                       (">x\nA\n>x\nC\n",), ("\n\n>r1 x\n  nnac  \n",)]
    cases += [(_fasta(rng),) for _ in range(5)]
    return FunctionSpec("parse_fasta", "text", statement, reference, cases, (">r1 read one\nACGT\nac\n>r2\nGG\n",))


def _quality(rng: random.Random, length: int, offset: int) -> str:
    return "".join(chr(offset + rng.randint(2, 41)) for _ in range(length))


def _fastq(rng: random.Random) -> str:
    records = []
    for i in range(rng.randint(1, 3)):
        seq = dna(rng, rng.randint(1, 12))
        records.append(f"@r{i}\n{seq}\n+\n{_quality(rng, len(seq), 33)}")
    return "\n".join(records) + "\n"


def parse_fastq(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `parse_fastq(text)` that parses FASTQ text (records of exactly four lines: '@name', "
        "sequence, '+' optionally followed by text, qualities) into a list of (name, sequence, quality) tuples "
        "in order; name is the text after '@' up to the first whitespace. Blank lines at the very end are "
        "ignored. A header not starting with '@', a separator not starting with '+', a quality string whose "
        "length differs from the sequence's, or an incomplete record raises ValueError."
    )
    reference = '''def parse_fastq(text):
    lines = text.rstrip("\\n").split("\\n") if text.strip() else []
    if len(lines) % 4:
        raise ValueError("incomplete record")
    records = []
    for i in range(0, len(lines), 4):
        header, seq, sep, qual = lines[i:i + 4]
        if not header.startswith("@") or not sep.startswith("+"):
            raise ValueError("bad header or separator")
        if len(seq) != len(qual):
            raise ValueError("sequence and quality differ in length")
        records.append((header[1:].split()[0] if header[1:].split() else "", seq, qual))
    return records
'''
    cases: list[tuple[object, ...]] = [("",), ("@a x\nAC\n+\nII\n\n",), ("@a\nAC\n+\nI\n",), ("a\nA\n+\nI\n",),
                                       ("@a\nA\n-\nI\n",), ("@a\nA\n+\n",), ("@a\nA\n+a\n#\n@b\nGG\n+\n!!",)]
    cases += [(_fastq(rng),) for _ in range(5)]
    return FunctionSpec("parse_fastq", "text", statement, reference, cases, ("@r1 lane1\nACGT\n+\nIIII\n",))


def mean_quality(rng: random.Random) -> FunctionSpec:
    offset = rng.choice([33, 64])
    statement = (
        "Write a function `mean_quality(qual)` that returns the mean Phred quality score of a FASTQ quality "
        f"string encoded with ASCII offset {offset} (each character's code minus {offset}), rounded to 2 decimal "
        "places. An empty string gives None. A character whose score would be negative raises ValueError."
    )
    reference = f'''def mean_quality(qual):
    if not qual:
        return None
    scores = [ord(c) - {offset} for c in qual]
    if min(scores) < 0:
        raise ValueError("character below the encoding offset")
    return round(sum(scores) / len(scores), 2)
'''
    cases: list[tuple[object, ...]] = [("",), (chr(offset),), (chr(offset - 1) + "I",), (chr(offset + 40) * 3,)]
    cases += [(_quality(rng, rng.randint(1, 40), offset),) for _ in range(6)]
    return FunctionSpec("mean_quality", "qual", statement, reference, cases, (chr(offset + 30) * 2 + chr(offset + 20),))


def expected_errors(rng: random.Random) -> FunctionSpec:
    digits = rng.choice([3, 4])
    statement = (
        "Write a function `expected_errors(qual)` that returns the expected number of sequencing errors in a read: "
        "the sum over its bases of the error probability 10 ** (-Q / 10), where Q is the Phred score of the "
        f"quality character (ASCII code minus 33), rounded to {digits} decimal places. An empty string gives 0.0; "
        "a character below '!' raises ValueError."
    )
    reference = f'''def expected_errors(qual):
    total = 0.0
    for c in qual:
        q = ord(c) - 33
        if q < 0:
            raise ValueError("quality below zero")
        total += 10 ** (-q / 10)
    return round(total, {digits})
'''
    cases: list[tuple[object, ...]] = [("",), ("!",), ("I",), (" I",), ("+5?",)]
    cases += [(_quality(rng, rng.randint(1, 50), 33),) for _ in range(6)]
    return FunctionSpec("expected_errors", "qual", statement, reference, cases, ("II5+",))


def trim_quality(rng: random.Random) -> FunctionSpec:
    threshold = rng.choice([15, 20, 25, 30])
    statement = (
        "Write a function `trim_quality(seq, qual)` that trims a read's 3' end: remove bases from the end of the "
        f"read while their Phred quality (ASCII code of the quality character minus 33) is below {threshold}, and "
        "return the (sequence, quality) pair that remains. Stop at the first base from the end with quality at "
        f"least {threshold}; bases before it are kept even if their quality is low. A sequence and quality of "
        "different lengths raise ValueError."
    )
    reference = f'''def trim_quality(seq, qual):
    if len(seq) != len(qual):
        raise ValueError("sequence and quality differ in length")
    end = len(qual)
    while end > 0 and ord(qual[end - 1]) - 33 < {threshold}:
        end -= 1
    return seq[:end], qual[:end]
'''
    low, high = chr(33 + threshold - 1), chr(33 + threshold)
    cases: list[tuple[object, ...]] = [("", ""), ("A", low), ("A", high), ("ACG", low + high + low), ("AC", "I")]
    for _ in range(6):
        seq = dna(rng, rng.randint(1, 25))
        cases.append((seq, _quality(rng, len(seq), 33)))
    return FunctionSpec("trim_quality", "seq, qual", statement, reference, cases, ("ACGTA", "II#!!"))


def n50(rng: random.Random) -> FunctionSpec:
    fraction = rng.choice([50, 90])
    statement = (
        f"Write a function `n{fraction}(lengths)` that returns the N{fraction} of a list of contig lengths: sort "
        "the lengths from longest to shortest and return the first length at which the running total reaches at "
        f"least {fraction}% of the sum of all lengths. An empty list (or one whose lengths sum to 0) gives 0. A "
        "negative length raises ValueError."
    )
    reference = f'''def n{fraction}(lengths):
    if any(length < 0 for length in lengths):
        raise ValueError("negative length")
    total = sum(lengths)
    if total == 0:
        return 0
    running = 0
    for length in sorted(lengths, reverse=True):
        running += length
        if running * 100 >= {fraction} * total:
            break
    return length
'''
    cases: list[tuple[object, ...]] = [([],), ([0, 0],), ([10],), ([5, -1],), ([2, 2, 2, 2],), ([1, 9],)]
    cases += [([rng.randint(1, 5000) for _ in range(rng.randint(2, 20))],) for _ in range(6)]
    return FunctionSpec(f"n{fraction}", "lengths", statement, reference, cases, ([100, 80, 50, 20],))


def classify_variant(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `classify_variant(ref, alt)` that classifies a variant from its VCF REF and ALT alleles "
        "(either case): 'SNV' when both are one base and differ; 'MNV' when both have the same length above one "
        "and differ; 'INS' when ALT is longer and starts with REF; 'DEL' when REF is longer and starts with ALT; "
        "'COMPLEX' otherwise. Identical alleles (ignoring case) give 'REF'. An empty allele or a letter other than "
        "A, C, G, T, N raises ValueError."
    )
    reference = '''def classify_variant(ref, alt):
    ref, alt = ref.upper(), alt.upper()
    if not ref or not alt or set(ref + alt) - set("ACGTN"):
        raise ValueError("bad allele")
    if ref == alt:
        return "REF"
    if len(ref) == len(alt):
        return "SNV" if len(ref) == 1 else "MNV"
    if len(alt) > len(ref) and alt.startswith(ref):
        return "INS"
    if len(ref) > len(alt) and ref.startswith(alt):
        return "DEL"
    return "COMPLEX"
'''
    cases: list[tuple[object, ...]] = [("A", "a"), ("A", "G"), ("AC", "GT"), ("A", "ACG"), ("ACG", "a"), ("AC", "T"),
                                       ("", "A"), ("A", "Z")]
    for _ in range(5):
        cases.append((dna(rng, rng.randint(1, 4)), dna(rng, rng.randint(1, 4))))
    return FunctionSpec("classify_variant", "ref, alt", statement, reference, cases, ("T", "TGA"))
