"""Synthetic multimodal interest world with planted ground truth (`ikg synth`).

`world` samples (pure), `text`/`media` render modalities (pure), `writer` streams tables,
`generate` writes a world directory in the generic ingest format plus `truth/`;
`probe` checks modality separability and behaviour against the planted truth.
"""
