"""`python -m sync` runs the `regsync` command."""

from sync.entry import main

if __name__ == "__main__":
    main()
