"""Tokens for topic naming and LDA, and class-based TF-IDF (c-TF-IDF) topic names.

Words are runs of letters (lower-cased, English stop words and 1-letter tokens dropped); text
without spaces in CJK scripts (Han, Kana, Hangul) becomes overlapping character bigrams, so
Chinese or Japanese content gets names such as ``机器 / 学习`` instead of one token per sentence.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{CJK}]+|[^\W\d_{CJK}]{{2,}}")
_CJK_RUN = re.compile(rf"^[{CJK}]+$")
NAME_WORDS = 3
NAME_SEPARATOR = " / "


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; CJK runs as character bigrams (a single character stays itself)."""
    tokens: list[str] = []
    for run in _TOKEN.findall(text.lower()):
        if _CJK_RUN.match(run):
            tokens.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        elif run not in ENGLISH_STOP_WORDS:
            tokens.append(run)
    return tokens


def vectorizer(min_df: int = 1, max_df: float = 1.0) -> CountVectorizer:
    """A CountVectorizer using :func:`tokenize`."""
    return CountVectorizer(analyzer=tokenize, min_df=min_df, max_df=max_df)


def class_term_counts(doc_terms: sparse.csr_matrix, labels: np.ndarray, n_classes: int) -> sparse.csr_matrix:
    """Sum the term counts of each class's documents: [n_classes, n_terms]; label -1 is ignored."""
    keep = labels >= 0
    onehot = sparse.csr_matrix((np.ones(int(keep.sum())), (labels[keep], np.flatnonzero(keep))),
                               shape=(n_classes, doc_terms.shape[0]))
    return (onehot @ doc_terms).tocsr()


def ctfidf(class_terms: sparse.spmatrix | np.ndarray) -> np.ndarray:
    """c-TF-IDF (BERTopic): term frequency within the class × log(1 + mean class size / term total)."""
    counts = np.asarray(class_terms.todense() if sparse.issparse(class_terms) else class_terms, dtype=np.float64)
    sizes = counts.sum(axis=1, keepdims=True)
    tf = np.divide(counts, sizes, out=np.zeros_like(counts), where=sizes > 0)
    totals = counts.sum(axis=0)
    mean_size = counts.sum() / max(len(counts), 1)
    idf = np.log1p(np.divide(mean_size, totals, out=np.zeros_like(totals), where=totals > 0))
    return tf * idf


def top_terms(scores: np.ndarray, vocabulary: Sequence[str], n: int = NAME_WORDS) -> list[list[str]]:
    """Each row's ``n`` highest-scoring terms (score > 0), best first; ties broken by term."""
    vocab = np.asarray(vocabulary)
    out = []
    for row in scores:
        order = np.lexsort((vocab, -row))[:n]
        out.append([str(vocab[i]) for i in order if row[i] > 0])
    return out


def names(terms: list[list[str]], fallback: str = "topic") -> list[str]:
    """Topic names from their top terms; a topic without terms is ``<fallback> <i>``."""
    return [NAME_SEPARATOR.join(t) if t else f"{fallback} {i}" for i, t in enumerate(terms)]
