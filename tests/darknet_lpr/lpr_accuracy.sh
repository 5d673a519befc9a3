#!/bin/sh
# Plate-reading regression floor (issue 5): 400 held-out synthetic gate frames
# (tools/lpr/gen_frames.py, seed 33, heldout style: backgrounds, colours and tilts the
# models never trained on) go through lpr_eval, which runs darknet-lpr's own lpr.c
# with the committed models. Fails when whole-plate accuracy is below the floor (of
# all frames, and of the frames inside the generator's reading envelope, the ones a
# person could read), when detection recall is below its floor, or when a wrong
# plate would have been published in more frames than allowed. The floors are set in tests.cmake next to
# the model versions they were measured with (models/MODEL_CARD.md).
#
#	lpr_accuracy.sh LPR_EVAL SOURCE_DIR MIN_ACCURACY MIN_RECALL MAX_WRONG MIN_LEGIBLE
set -eu
eval_bin=$1 src=$2 min_acc=$3 min_rec=$4 max_wrong=$5 min_leg=$6
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lpr_accuracy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# 400 frames so that more than 300 of them are legible (330), as issue 5 asks of its
# 95 % floor.
/usr/bin/python3 "$src/tools/lpr/gen_frames.py" --seed 33 --style heldout \
    --count 400 --out "$tmp/frames" >/dev/null
rows=$(($(wc -l < "$tmp/frames/labels.csv") - 1))
legible=$(awk -F, 'NR > 1 { sub(/\r$/, ""); n += $NF == 1 } END { print n + 0 }' \
    "$tmp/frames/labels.csv")
if [ "$rows" -ne 400 ] || [ "$legible" -lt 300 ]; then
	echo "FAIL gen_frames wrote $rows labelled frames ($legible legible), not 400 (300)"
	exit 1
fi
"$eval_bin" -m "$src/models" -a "$min_acc" -A "$min_leg" -r "$min_rec" -w "$max_wrong" \
    -j "$tmp/eval.json" "$tmp/frames" 2>"$tmp/eval.err" || {
	rc=$?
	grep "^lpr_eval" "$tmp/eval.err" | tail -5
	exit "$rc"
}
