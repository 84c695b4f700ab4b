"""`medgym_bio` function templates over sequences: complements, GC content, translation, k-mers, motifs."""

from __future__ import annotations

import random

from task_store.pack.bio_function_tasks import FunctionSpec, dna, messy_dna


def reverse_complement(rng: random.Random) -> FunctionSpec:
    rna = rng.random() < 0.5
    kind, partner = ("RNA", "U") if rna else ("DNA", "T")
    statement = (
        f"Write a function `reverse_complement(seq)` that returns the reverse complement of a {kind} sequence "
        f"(A pairs with {partner}, C with G; N stays N). Keep the case of every letter (a lowercase base gives a "
        f"lowercase complement). An empty sequence gives an empty string. Any other character raises ValueError."
    )
    reference = f'''def reverse_complement(seq):
    pairs = {{"A": "{partner}", "{partner}": "A", "C": "G", "G": "C", "N": "N"}}
    out = []
    for base in reversed(seq):
        partner = pairs.get(base.upper())
        if partner is None:
            raise ValueError(f"not a {kind} base: {{base!r}}")
        out.append(partner.lower() if base.islower() else partner)
    return "".join(out)
'''
    alphabet = "ACGUN" if rna else "ACGTN"
    cases = [("",), ("a",), (f"AC{partner}GN",), ("acgN",), ("ACGX",), (f"{partner}{partner}aa",)]
    cases += [(_case_mix(rng, dna(rng, rng.randint(5, 40), alphabet)),) for _ in range(6)]
    return FunctionSpec("reverse_complement", "seq", statement, reference, cases, (f"AAC{partner}g",))


def _case_mix(rng: random.Random, seq: str) -> str:
    return "".join(c.lower() if rng.random() < 0.3 else c for c in seq)


def gc_content(rng: random.Random) -> FunctionSpec:
    digits = rng.choice([2, 3, 4])
    statement = (
        "Write a function `gc_content(seq)` that returns the fraction of G and C bases among the A, C, G and T "
        "bases of a DNA sequence, ignoring case; N and any other character are not counted at all. Return 0.0 "
        f"when the sequence has no A, C, G or T. Round the result to {digits} decimal places."
    )
    reference = f'''def gc_content(seq):
    seq = seq.upper()
    counted = sum(seq.count(base) for base in "ACGT")
    if counted == 0:
        return 0.0
    return round((seq.count("G") + seq.count("C")) / counted, {digits})
'''
    cases: list[tuple[object, ...]] = [("",), ("NNNN",), ("gc",), ("ATATNNNgc",), ("G",), ("ACGT-acgt",)]
    cases += [(messy_dna(rng, rng.randint(3, 60)),) for _ in range(8)]
    return FunctionSpec("gc_content", "seq", statement, reference, cases, ("ACGTNNgg",))


def gc_windows(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `gc_windows(seq, window, step)` that slides a window of `window` bases along a DNA "
        "sequence, starting at position 0 and moving `step` bases at a time, and returns a list of "
        "(start, gc) pairs for every window that lies completely inside the sequence. `gc` is the number of G "
        "and C bases (either case) in the window divided by `window` (N counts as a non-GC base), rounded to 4 "
        "decimal places. A sequence shorter than the window gives an empty list. `window` or `step` below 1 "
        "raises ValueError."
    )
    reference = '''def gc_windows(seq, window, step):
    if window < 1 or step < 1:
        raise ValueError("window and step must be at least 1")
    seq = seq.upper()
    out = []
    for start in range(0, len(seq) - window + 1, step):
        part = seq[start:start + window]
        out.append((start, round((part.count("G") + part.count("C")) / window, 4)))
    return out
'''
    cases: list[tuple[object, ...]] = [("", 3, 1), ("ACG", 3, 1), ("AC", 3, 1), ("ggccAATT", 4, 4), ("ACGT", 0, 1),
                                       ("ACGT", 2, 0), ("GCGCGN", 2, 3)]
    cases += [(messy_dna(rng, rng.randint(5, 50)), rng.randint(1, 8), rng.randint(1, 5)) for _ in range(6)]
    return FunctionSpec("gc_windows", "seq, window, step", statement, reference, cases, ("GGCATN", 3, 2))


CODONS = {
    "TTT": "F", "TTC": "F", "TTA": "L", "TTG": "L", "CTT": "L", "CTC": "L", "CTA": "L", "CTG": "L",
    "ATT": "I", "ATC": "I", "ATA": "I", "ATG": "M", "GTT": "V", "GTC": "V", "GTA": "V", "GTG": "V",
    "TCT": "S", "TCC": "S", "TCA": "S", "TCG": "S", "CCT": "P", "CCC": "P", "CCA": "P", "CCG": "P",
    "ACT": "T", "ACC": "T", "ACA": "T", "ACG": "T", "GCT": "A", "GCC": "A", "GCA": "A", "GCG": "A",
    "TAT": "Y", "TAC": "Y", "TAA": "*", "TAG": "*", "CAT": "H", "CAC": "H", "CAA": "Q", "CAG": "Q",
    "AAT": "N", "AAC": "N", "AAA": "K", "AAG": "K", "GAT": "D", "GAC": "D", "GAA": "E", "GAG": "E",
    "TGT": "C", "TGC": "C", "TGA": "*", "TGG": "W", "CGT": "R", "CGC": "R", "CGA": "R", "CGG": "R",
    "AGT": "S", "AGC": "S", "AGA": "R", "AGG": "R", "GGT": "G", "GGC": "G", "GGA": "G", "GGG": "G",
}


def translate(rng: random.Random) -> FunctionSpec:
    to_stop = rng.random() < 0.5
    stop_rule = ("stop before the first stop codon (it is not included)" if to_stop
                 else "write stop codons as '*' and keep translating after them")
    statement = (
        "Write a function `translate(seq)` that translates a DNA coding sequence (either case) into a protein "
        "string with the standard genetic code, reading codons from position 0; an incomplete codon at the end "
        f"is ignored. A codon containing N or any other non-ACGT letter translates to 'X'. {stop_rule[0].upper()}"
        f"{stop_rule[1:]}. The standard table is available as the usual 64-codon mapping."
    )
    stop_line = "            break" if to_stop else '            out.append("*")\n            continue'
    reference = f'''CODON_TABLE = {CODONS!r}


def translate(seq):
    seq = seq.upper()
    out = []
    for i in range(0, len(seq) - 2, 3):
        amino = CODON_TABLE.get(seq[i:i + 3], "X")
        if amino == "*":
{stop_line}
        out.append(amino)
    return "".join(out)
'''
    cases: list[tuple[object, ...]] = [("",), ("AT",), ("atgGCC",), ("ATGTAAGCC",), ("ATGNNNTGGA",), ("tgatga",)]
    cases += [(_case_mix(rng, dna(rng, rng.randint(6, 60), "ACGTACGTN")),) for _ in range(6)]
    return FunctionSpec("translate", "seq", statement, reference, cases, ("ATGGCCtaaGG",))


def kmer_counts(rng: random.Random) -> FunctionSpec:
    k = rng.choice([2, 3, 4])
    statement = (
        f"Write a function `kmer_counts(seq)` that counts every overlapping k-mer of length {k} in a DNA sequence "
        "and returns a dict mapping each k-mer (uppercase) to its count. Case is ignored; k-mers containing N (or "
        f"any letter other than A, C, G, T) are skipped. A sequence shorter than {k} gives an empty dict."
    )
    reference = f'''def kmer_counts(seq):
    seq = seq.upper()
    counts = {{}}
    for i in range(len(seq) - {k} + 1):
        kmer = seq[i:i + {k}]
        if set(kmer) <= set("ACGT"):
            counts[kmer] = counts.get(kmer, 0) + 1
    return counts
'''
    cases: list[tuple[object, ...]] = [("",), ("A" * (k - 1),), ("acgtACGT",), ("NNNNNN",), ("AAAAAAA",)]
    cases += [(messy_dna(rng, rng.randint(4, 40)),) for _ in range(6)]
    return FunctionSpec("kmer_counts", "seq", statement, reference, cases, ("ACGTnAC",))


def find_motif(rng: random.Random) -> FunctionSpec:
    base = 1 if rng.random() < 0.5 else 0
    statement = (
        "Write a function `find_motif(seq, motif)` that returns the positions of every occurrence of `motif` in "
        f"`seq`, overlapping occurrences included, as a sorted list of {base}-based start positions. Matching "
        "ignores case; N in the motif matches any base, N in the sequence matches only N in the motif. An empty "
        "motif raises ValueError; a motif longer than the sequence gives an empty list."
    )
    reference = f'''def find_motif(seq, motif):
    if not motif:
        raise ValueError("empty motif")
    seq, motif = seq.upper(), motif.upper()
    hits = []
    for start in range(len(seq) - len(motif) + 1):
        if all(m == "N" or m == s for m, s in zip(motif, seq[start:start + len(motif)])):
            hits.append(start + {base})
    return hits
'''
    cases: list[tuple[object, ...]] = [("AAAA", "AA"), ("acgt", "CG"), ("ACGT", ""), ("AC", "ACG"), ("ANGT", "AN"),
                                       ("ACGTACGT", "NCG"), ("NNN", "A")]
    cases += [(messy_dna(rng, rng.randint(10, 50)), dna(rng, rng.randint(1, 3), "ACGTN")) for _ in range(6)]
    return FunctionSpec("find_motif", "seq, motif", statement, reference, cases, ("GATATAT", "ATA"))


def hamming(rng: random.Random) -> FunctionSpec:
    skip_n = rng.random() < 0.5
    n_rule = ("positions where either base is N are not counted" if skip_n
              else "N is an ordinary letter (N against N is a match, N against A a mismatch)")
    statement = (
        "Write a function `hamming(a, b)` that returns the number of positions at which two DNA sequences of "
        f"equal length differ, ignoring case; {n_rule}. Sequences of different lengths raise ValueError."
    )
    condition = 'x != y and "N" not in (x, y)' if skip_n else "x != y"
    reference = f'''def hamming(a, b):
    if len(a) != len(b):
        raise ValueError("sequences differ in length")
    return sum(1 for x, y in zip(a.upper(), b.upper()) if {condition})
'''
    cases: list[tuple[object, ...]] = [("", ""), ("A", "a"), ("ACGT", "ACG"), ("NNAC", "ANAG"), ("acgt", "TGCA")]
    for _ in range(6):
        length = rng.randint(3, 30)
        cases.append((messy_dna(rng, length), messy_dna(rng, length)))
    return FunctionSpec("hamming", "a, b", statement, reference, cases, ("ACGTN", "AGGTA"))


def longest_orf(rng: random.Random) -> FunctionSpec:
    statement = (
        "Write a function `longest_orf(seq)` that returns the length in nucleotides (stop codon included) of the "
        "longest open reading frame on the forward strand of a DNA sequence (either case): a run of codons in one "
        "of the three reading frames that starts with ATG and ends at the first in-frame stop codon (TAA, TAG or "
        "TGA) after it. An ATG with no in-frame stop codon after it does not form an ORF. Return 0 if there is none."
    )
    reference = '''def longest_orf(seq):
    seq = seq.upper()
    best = 0
    for start in range(len(seq) - 2):
        if seq[start:start + 3] != "ATG":
            continue
        for end in range(start, len(seq) - 2, 3):
            if seq[end:end + 3] in ("TAA", "TAG", "TGA"):
                best = max(best, end + 3 - start)
                break
    return best
'''
    cases: list[tuple[object, ...]] = [("",), ("ATG",), ("atgtaa",), ("ATGAAATGATAG",), ("CATGCCCTGA",),
                                       ("ATGCCC",)]
    cases += [(dna(rng, rng.randint(20, 90)),) for _ in range(6)]
    return FunctionSpec("longest_orf", "seq", statement, reference, cases, ("CCATGAAATAGG",))


def melting_temperature(rng: random.Random) -> FunctionSpec:
    cutoff = rng.choice([13, 14, 15])
    statement = (
        "Write a function `melting_temperature(primer)` that estimates a DNA primer's melting temperature in °C. "
        f"Count A, C, G, T ignoring case (other letters are not counted). If the primer has fewer than {cutoff} "
        "counted bases use the Wallace rule 2*(A+T) + 4*(G+C); otherwise use 64.9 + 41*(G+C-16.4)/(A+C+G+T). "
        "Round to 1 decimal place. A primer with no counted base raises ValueError."
    )
    reference = f'''def melting_temperature(primer):
    primer = primer.upper()
    at = primer.count("A") + primer.count("T")
    gc = primer.count("G") + primer.count("C")
    if at + gc == 0:
        raise ValueError("no bases")
    if at + gc < {cutoff}:
        return round(2 * at + 4 * gc, 1)
    return round(64.9 + 41 * (gc - 16.4) / (at + gc), 1)
'''
    cases: list[tuple[object, ...]] = [("",), ("NNN",), ("acgt",), ("A" * (cutoff - 1),), ("G" * cutoff,),
                                       ("GC" * cutoff + "NN",)]
    cases += [(messy_dna(rng, rng.randint(8, 30)),) for _ in range(6)]
    return FunctionSpec("melting_temperature", "primer", statement, reference, cases, ("ACGTACGTAC",))
