"""Protocol v2's cryptography: the ristretto255 group, exponential ElGamal, the proofs, the
verifiable shuffle, the trustees' key ceremony and threshold decryption.

Only ``group`` knows the libsodium binding; everything else speaks ``Point`` and Python ints
(scalars mod ``ORDER``). docs/spec/ is the written specification these modules follow.
"""
