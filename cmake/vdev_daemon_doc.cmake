# SPDX-License-Identifier: BSD-3-Clause
# cmake -DPROGRAM=... [-DEMULATOR=...] -DARGS=--opt=value -DOUT=file -P this:
# runs a daemon to print one of its documents into OUT.
execute_process(COMMAND ${EMULATOR} ${PROGRAM} ${ARGS}
                OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "${PROGRAM} ${ARGS}: exit status ${rc}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
