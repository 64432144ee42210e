"""The CUDA targets of the functional API (host side: device arrays, launch
shapes, kernel look-up). They sit below :mod:`noisegen.effects` and
:mod:`noisegen.synth`, which validate and then call them; the public GPU
package :mod:`noisegen.cuda` (``augment_batch``, the stream's GPU path) sits
above. Nothing here imports :mod:`numba.cuda` until a CUDA call is made."""
