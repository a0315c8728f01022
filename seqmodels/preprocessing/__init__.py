"""Preprocessing shared by the data modules and inference, without Lightning: vocabularies,
tokenizers and text normalisation, scalers."""

from seqmodels.preprocessing.scaling import SCALINGS as SCALINGS
from seqmodels.preprocessing.scaling import Scaler as Scaler
from seqmodels.preprocessing.text import KEEPS as KEEPS
from seqmodels.preprocessing.text import normalize as normalize
from seqmodels.preprocessing.text import tokenize as tokenize
from seqmodels.preprocessing.text import truncate as truncate
from seqmodels.preprocessing.vocab import EOS as EOS
from seqmodels.preprocessing.vocab import PAD as PAD
from seqmodels.preprocessing.vocab import SOS as SOS
from seqmodels.preprocessing.vocab import UNK as UNK
from seqmodels.preprocessing.vocab import Vocabulary as Vocabulary
