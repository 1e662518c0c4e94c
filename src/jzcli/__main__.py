from jzcli.cli import main

main()
