@echo off
rem backup.cmd: one planb run of this node, as the scheduled task starts it
rem (see README.md). It runs the configuration of its own folder with the
rem secrets of secrets\css.vars.hcl and appends what planb says to
rem logs\backup.log.
setlocal
rem "%~dp0." and not "%~dp0": a backslash before a closing quote would
rem escape the quote.
set "here=%~dp0."
set "planb=%ProgramFiles%\planb\planb.exe"
if not exist "%here%\logs" mkdir "%here%\logs"
echo ==== %date% %time% >> "%here%\logs\backup.log"
"%planb%" --chdir "%here%" --var-file "%here%\secrets\css.vars.hcl" apply --auto-approve --lock-timeout 10m >> "%here%\logs\backup.log" 2>&1
set "rc=%errorlevel%"
rem Exit code 11: another run (a manual one, or one still going) holds a
rem lock. The next run catches up, so it does not count as a failure.
if "%rc%"=="11" exit /b 0
exit /b %rc%
