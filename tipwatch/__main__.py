from tipwatch.cli import main

raise SystemExit(main())
