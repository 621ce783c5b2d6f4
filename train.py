"""python train.py [overrides]: same as the attnlab-train command."""

from attnlab.train import main

if __name__ == "__main__":
    main()
