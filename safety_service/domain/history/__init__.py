"""A participant's concomitant medications and relevant medical history, entered by the site (issue 14).

``records`` holds what both kinds share (site scope, numbering, versions, amendments with a reason, entered in
error, the audit entries); ``conmeds`` and ``medical_history`` say what their fields are; ``treatments`` links
con-meds to the AEs they were given for; ``importing`` reads them from CSV, all rows or none.
"""
